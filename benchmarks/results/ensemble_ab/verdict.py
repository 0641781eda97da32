"""The gate of PLAN.md applied to the arms' counts (``arms.json``, written by session 28's gate.py,
whose own "gate" entry is that session's rule and does not apply here).

E passes if all four hold: (1) tumours >= 10 mm found >= A's; (2) all tumours found >= A's;
(3) tumour-free phantoms clean >= A's; (4) kept Dice >= A's + 0.01 or all tumours found >= A's + 3.

Usage: verdict.py ARMS.json OUT.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

DICE_GAIN = 0.01
MORE_TUMOURS = 3


def main() -> None:
    arms = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))["arms"]
    summary = {name: {"cutoff": arm["cutoff"], **{k: arm["at_cutoff"][k] for k in
                      ("found", "n_truth", "found_ge10", "n_ge10", "fp", "clean", "tumour_free")},
                      "froc_mean": arm["froc"]["mean"], "kept_dice_mean": arm["kept_dice_mean"]}
               for name, arm in arms.items()}
    a, e = summary["A"], summary["E"]
    conditions = {
        "tumours_ge10_found_not_fewer": e["found_ge10"] >= a["found_ge10"],
        "all_tumours_found_not_fewer": e["found"] >= a["found"],
        "tumour_free_clean_not_fewer": e["clean"] >= a["clean"],
        "kept_dice_plus_0.01_or_3_more_tumours": (e["kept_dice_mean"] >= a["kept_dice_mean"] + DICE_GAIN
                                                   or e["found"] >= a["found"] + MORE_TUMOURS)}
    result = {"arms": summary, "conditions": conditions, "passes": all(conditions.values())}
    Path(sys.argv[2]).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for name, s in summary.items():
        print(f"{name}: cut-off {s['cutoff']:.3f}  found {s['found']}/{s['n_truth']}  >=10 mm {s['found_ge10']}/"
              f"{s['n_ge10']}  FP {s['fp']}  clean {s['clean']}/{s['tumour_free']}  FROC mean {s['froc_mean']:.3f}  "
              f"kept Dice {s['kept_dice_mean']:.4f}")
    print("gate", conditions, "PASSES" if result["passes"] else "FAILS")


if __name__ == "__main__":
    main()
