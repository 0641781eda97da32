"""PLAN_after.md's decision: 0.11.0 against variant A (the lesions joined with the magnified
components touching them after the judgement) on seeds 10200-10247, from cached maps.

Usage: decide_after.py OUT.json PACKAGE_0.10.0 ZOOMED_MAPS LOOK_CLASSIFIER DATA:CACHE
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from diagnosis_after import baseline_and_joined  # noqa: E402

DICE_GAIN = 0.01  # PLAN_after.md rule 1


def main() -> None:
    out = Path(sys.argv[1])
    arms = baseline_and_joined(Path(sys.argv[2]), sys.argv[4], Path(sys.argv[3]), sys.argv[5:], "A")
    summary = arms.summary()
    b, a = summary["baseline"], summary["A"]
    rules = {"mean Dice at least 0.01 higher": a["mean_dice_tumour_cases"] >= b["mean_dice_tumour_cases"] + DICE_GAIN,
             "tumours >= 10 mm not fewer": a["large_found"] >= b["large_found"],
             "false positives not more": a["false_positives"] <= b["false_positives"],
             "tumour-free clean not fewer": a["clean"] >= b["clean"]}
    result = {"cases": len(arms.rows["A"]), "summary": summary, "rules": rules, "decision_passed": all(rules.values()),
              "per_case_dice": {arm: [round(r["dice"], 4) for r in rows] for arm, rows in arms.rows.items()},
              "note": "synthetic phantoms, not clinical accuracy"}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_case_dice"}, indent=1))


if __name__ == "__main__":
    main()
