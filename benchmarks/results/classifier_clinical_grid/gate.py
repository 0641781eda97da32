"""Gate and decision of PLAN.md: arms A (shipped), B (from scratch) and C (fine-tuned).

Every arm scores the same candidates (``extract.py`` patches, eight test-time flips) and gets
its own cut-off by the card's rule on the calibration phantoms; counts are on thresholded
components (``../candidate_classifier_experiment/gate.py``). The rule, scoring and summaries
are ``../classifier_more_data/compare.py``'s.

Usage:
  gate.py gate   A.safetensors B.safetensors C.safetensors --cal DIR [DIR ...] --out gate.json
  gate.py decide A.safetensors B.safetensors C.safetensors --cal DIR [DIR ...] --fresh DIR --out decision.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "classifier_more_data"))
import compare  # noqa: E402  (rule_cutoff, summary, load_cases, cross_validated)

SHIPPED_CUTOFF = 0.4891751557588577
MORE_LARGE_TUMOURS = 2


def gate_winner(result: dict) -> str | None:
    """B or C by PLAN.md's gate, or None."""
    a = result["calibration A"]
    passing = [arm for arm in ("B", "C")
               if result[f"calibration {arm}"]["at_cutoff"]["found_ge10"] >= a["at_cutoff"]["found_ge10"] + MORE_LARGE_TUMOURS
               and result[f"calibration {arm}"]["froc"]["mean"] >= a["froc"]["mean"]]
    if not passing:
        return None
    return max(passing, key=lambda arm: (result[f"calibration {arm}"]["at_cutoff"]["found_ge10"],
                                         result[f"calibration {arm}"]["froc"]["mean"], arm == "B"))


def ships(new: dict, old: dict) -> bool:
    """No worse on tumours >= 10 mm found and false positives per case, better on one."""
    no_worse = new["found_ge10"] >= old["found_ge10"] and new["fp_per_case"] <= old["fp_per_case"]
    return bool(no_worse and (new["found_ge10"] > old["found_ge10"] or new["fp_per_case"] < old["fp_per_case"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["gate", "decide"])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("c", type=Path)
    ap.add_argument("--cal", nargs="+", type=Path, required=True)
    ap.add_argument("--fresh", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    arms = {"A": args.a, "B": args.b, "C": args.c}
    result: dict = {"fp_bound_per_case": compare.FP_BOUND, "shipped_cutoff": SHIPPED_CUTOFF}
    cutoffs = {}
    for name, weights in arms.items():
        cal = compare.load_cases(args.cal, weights, name)
        cutoffs[name] = compare.rule_cutoff(cal)
        result[f"calibration {name}"] = {"cutoff": cutoffs[name], **compare.summary(cal, cutoffs[name]),
                                         "cross_validated": compare.cross_validated(cal)}
        if name == "A":
            result["calibration A at the shipped cut-off"] = compare.at(cal, SHIPPED_CUTOFF)
    result["gate_winner"] = gate_winner(result)
    if args.mode == "decide":
        fresh = {name: compare.load_cases([args.fresh], weights, name) for name, weights in arms.items()}
        for name in arms:
            result[f"fresh {name}"] = compare.summary(fresh[name], cutoffs[name])
        result["fresh A at the shipped cut-off"] = compare.at(fresh["A"], SHIPPED_CUTOFF)
        a_rule = result["fresh A"]["at_cutoff"]
        result["cutoff_alone_ships"] = (abs(cutoffs["A"] - SHIPPED_CUTOFF) > 1e-9
                                        and ships(a_rule, result["fresh A at the shipped cut-off"]))
        winner = result["gate_winner"]
        result["arm_ships"] = bool(winner and ships(result[f"fresh {winner}"]["at_cutoff"], a_rule))
    text = json.dumps(result, indent=1)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
