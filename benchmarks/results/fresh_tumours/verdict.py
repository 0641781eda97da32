"""The gate and the continuation rule of PLAN.md applied to the arms' counts (``arms.json``,
written by session 28's gate.py, whose own "gate" entry is that session's rule and does not
apply here).

F passes if all three hold: (1) all tumours found >= A's + 3; (2) tumours >= 10 mm found >= A's;
(3) kept Dice >= A's. If it fails, the line continues only if F's median share of part-solid
tumours >= 10 mm marked at the card threshold is >= A's + 0.05.

Usage: verdict.py ARMS.json OUT.json [ARM]   (ARM: the candidate arm's name, default F; session 36's
``../more_phantoms/`` applies the same gate and rule to its arm G)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

MORE_TUMOURS = 3
SHARE_GAIN = 0.05
PART_SOLID = "kind part-solid"


def main() -> None:
    arms = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))["arms"]
    summary = {name: {"cutoff": arm["cutoff"], **{k: arm["at_cutoff"][k] for k in
                      ("found", "n_truth", "found_ge10", "n_ge10", "fp", "clean", "tumour_free")},
                      "froc_mean": arm["froc"]["mean"], "kept_dice_mean": arm["kept_dice_mean"],
                      "part_solid_responded": arm["responses"][PART_SOLID]["responded"],
                      "part_solid_median_share": arm["responses"][PART_SOLID]["median_share"]}
               for name, arm in arms.items()}
    a, f = summary["A"], summary[sys.argv[3] if len(sys.argv) > 3 else "F"]
    conditions = {
        "all_tumours_found_at_least_A_plus_3": f["found"] >= a["found"] + MORE_TUMOURS,
        "tumours_ge10_found_not_fewer": f["found_ge10"] >= a["found_ge10"],
        "kept_dice_not_lower": f["kept_dice_mean"] >= a["kept_dice_mean"]}
    passes = all(conditions.values())
    continues = (not passes) and f["part_solid_median_share"] >= a["part_solid_median_share"] + SHARE_GAIN
    result = {"arms": summary, "conditions": conditions, "passes": passes, "line_continues": continues}
    Path(sys.argv[2]).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for name, s in summary.items():
        print(f"{name}: cut-off {s['cutoff']:.3f}  found {s['found']}/{s['n_truth']}  >=10 mm {s['found_ge10']}/"
              f"{s['n_ge10']}  FP {s['fp']}  clean {s['clean']}/{s['tumour_free']}  FROC mean {s['froc_mean']:.3f}  "
              f"kept Dice {s['kept_dice_mean']:.4f}  part-solid responded {s['part_solid_responded']}, "
              f"median share {s['part_solid_median_share']:.2f}")
    print("gate", conditions, "PASSES" if passes else "FAILS", "| line continues" if continues else "")


if __name__ == "__main__":
    main()
