"""Diagnosis only (not in PLAN.md's decision): candidates at a lower threshold on the 40
full-size calibration phantoms, judged by the shipped classifier at the rule cut-off found on
them (the card's rule, <= 0.15 false positives per case), against the card threshold's.

Usage: lower_threshold.py WEIGHTS OUT.json CAND_DIR_AT_CARD_THRESHOLD... -- CAND_DIR_AT_LOWER...
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "classifier_more_data"))
import compare  # noqa: E402


def main() -> None:
    weights, out = Path(sys.argv[1]), Path(sys.argv[2])
    split = sys.argv.index("--")
    sets = {"card threshold": [Path(p) for p in sys.argv[3:split]], "lower threshold": [Path(p) for p in sys.argv[split + 1:]]}
    torch.set_num_threads(2)
    result = {}
    for name, dirs in sets.items():
        cases = compare.load_cases(dirs, weights, "A")
        cutoff = compare.rule_cutoff(cases)
        result[name] = {"cutoff": cutoff, **compare.summary(cases, cutoff)}
        s = result[name]
        print(name, f"cut-off {cutoff:.3f}", s["at_cutoff"]["found_ge10"], "/", s["at_cutoff"]["n_ge10"],
              "fp", s["at_cutoff"]["fp"], "froc", round(s["froc"]["mean"], 3),
              "every candidate", s["every_candidate"]["found_ge10"], s["every_candidate"]["fp"], flush=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
