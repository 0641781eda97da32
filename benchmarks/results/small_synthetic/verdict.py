"""The gate of PLAN.md applied to the arms' counts (``arms.json``, written by session 28's gate.py,
whose own "gate" entry is that session's rule and does not apply here).

B passes if all three hold: (1) all tumours found >= A's + 4; (2) tumours >= 10 mm found >= A's;
(3) mean Dice over tumour cases of the kept candidates >= A's.

Usage: verdict.py ARMS.json OUT.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

MORE_TUMOURS = 4


def main() -> None:
    arms = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))["arms"]
    a, b = arms["A"], arms["B"]
    conditions = {
        "all_tumours_found_at_least_A_plus_4": b["at_cutoff"]["found"] >= a["at_cutoff"]["found"] + MORE_TUMOURS,
        "tumours_ge10_found_not_fewer": b["at_cutoff"]["found_ge10"] >= a["at_cutoff"]["found_ge10"],
        "kept_dice_not_lower": b["kept_dice_mean"] >= a["kept_dice_mean"]}
    summary = {name: {"cutoff": arm["cutoff"], "found": arm["at_cutoff"]["found"], "n_truth": arm["at_cutoff"]["n_truth"],
                      "found_ge10": arm["at_cutoff"]["found_ge10"], "n_ge10": arm["at_cutoff"]["n_ge10"],
                      "fp": arm["at_cutoff"]["fp"], "clean": arm["at_cutoff"]["clean"],
                      "tumour_free": arm["at_cutoff"]["tumour_free"], "froc_mean": arm["froc"]["mean"],
                      "kept_dice_mean": arm["kept_dice_mean"]} for name, arm in (("A", a), ("B", b))}
    result = {"arms": summary, "conditions": conditions, "passes": all(conditions.values())}
    Path(sys.argv[2]).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for name, s in summary.items():
        print(f"{name}: cut-off {s['cutoff']:.3f}  found {s['found']}/{s['n_truth']}  >=10 mm {s['found_ge10']}/"
              f"{s['n_ge10']}  FP {s['fp']}  clean {s['clean']}/{s['tumour_free']}  FROC mean {s['froc_mean']:.3f}  "
              f"kept Dice {s['kept_dice_mean']:.4f}")
    print("gate", conditions, "PASSES" if result["passes"] else "FAILS")


if __name__ == "__main__":
    main()
