"""Gate and decision of PLAN.md: candidates seeded at 0.2 (arm S) against the shipped 0.45 (arm A).

Candidates and their patches come from ``../classifier_clinical_grid/extract.py`` (at 0.45, and
at 0.2 with its THRESHOLD argument); the shipped classifier's scores are kept beside them as
``<case>.A.npy`` (``../classifier_more_data/compare.scores_of``). Counting as there.

Usage:
  gate.py gate   --small A_DIR:S_DIR ... --full A_DIR:S_DIR ... --dice DATA:CACHE:A_DIR:S_DIR ... --out gate.json
  gate.py decide (the gate's arguments) --fresh A_DIR:S_DIR --fresh-dice DATA:CACHE:A_DIR:S_DIR --out decision.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
sys.path.insert(0, str(HERE.parent / "classifier_more_data"))
sys.path.insert(0, str(HERE.parent / "classifier_clinical_grid"))

from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
# before compare, which puts ../candidate_classifier_experiment (with a maps.py of its own) first
from maps import map_key  # noqa: E402
from seed_threshold_dice import dice, kept_masks, tumour_case_maps  # noqa: E402
import compare  # noqa: E402  (cases, the card's cut-off rule, counts)

WEIGHTS = ROOT / "LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom/candidate_check.safetensors"
CARD_CUTOFF = 0.4891751557588577
MORE_LARGE_TUMOURS = 2
ISSUE_FP_BOUND = 0.3


def pairs(specs: list[str]) -> tuple[list[Path], list[Path]]:
    """``A_DIR:S_DIR`` arguments → the A folders and the S folders."""
    split = [s.split(":") for s in specs]
    return [Path(a) for a, _ in split], [Path(s) for _, s in split]


def two_level_dice(specs: list[str], cutoff_a: float, cutoff_s: float) -> dict:
    """Mean Dice over the tumour phantoms of the kept outlines: A's components at 0.45, S's
    kept 0.2 components outlined two-level (their >= 0.45 voxels when >= 30 mm3, else whole)."""
    package = load_package(default_package_dir())
    rows = []
    for name, truth, spacing, prob, scores_a, scores_s in tumour_case_maps(specs, package, map_key(package)):
        a_mask, _, two_level = kept_masks(prob, spacing, scores_a, scores_s, cutoff_a, cutoff_s)
        rows.append({"case": name, "A": dice(a_mask, truth), "S": dice(two_level, truth)})
    return {"tumour_cases": len(rows), "mean_dice_A": float(np.mean([r["A"] for r in rows])),
            "mean_dice_S": float(np.mean([r["S"] for r in rows])), "cases": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["gate", "decide"])
    ap.add_argument("--small", nargs="+", required=True)
    ap.add_argument("--full", nargs="+", required=True)
    ap.add_argument("--dice", nargs="+", required=True)
    ap.add_argument("--fresh")
    ap.add_argument("--fresh-dice")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    torch.set_num_threads(2)
    (small_a, small_s), (full_a, full_s) = pairs(a.small), pairs(a.full)
    grids = {"small": (compare.load_cases(small_a, WEIGHTS, "A"), compare.load_cases(small_s, WEIGHTS, "A")),
             "full": (compare.load_cases(full_a, WEIGHTS, "A"), compare.load_cases(full_s, WEIGHTS, "A"))}
    pooled_a = grids["small"][0] + grids["full"][0]
    pooled_s = grids["small"][1] + grids["full"][1]
    cut = {"A": CARD_CUTOFF, "A_pooled_rule": compare.rule_cutoff(pooled_a), "S": compare.rule_cutoff(pooled_s)}
    result: dict = {"cutoffs": cut,
                    "pooled": {"A": compare.summary(pooled_a, cut["A"]), "S": compare.summary(pooled_s, cut["S"]),
                               "A_at_pooled_rule": compare.at(pooled_a, cut["A_pooled_rule"])}}
    for grid, (cases_a, cases_s) in grids.items():
        result[grid] = {"A": compare.at(cases_a, cut["A"]), "S": compare.at(cases_s, cut["S"]),
                        "A_at_pooled_rule": compare.at(cases_a, cut["A_pooled_rule"])}
    result["dice_full_calibration"] = two_level_dice(a.dice, cut["A"], cut["S"])
    pa, ps = result["pooled"]["A"]["at_cutoff"], result["pooled"]["S"]["at_cutoff"]
    per_grid_ok = all(result[g]["S"]["fp_per_case"] <= ISSUE_FP_BOUND
                      and result[g]["S"]["clean"] >= result[g]["A"]["clean"] - 1 for g in grids)
    d = result["dice_full_calibration"]
    result["gate"] = {"more_large_tumours": ps["found_ge10"] - pa["found_ge10"], "per_grid_ok": per_grid_ok,
                      "dice_drop": d["mean_dice_A"] - d["mean_dice_S"]}
    result["gate_passes"] = bool(ps["found_ge10"] >= pa["found_ge10"] + MORE_LARGE_TUMOURS and per_grid_ok
                                 and d["mean_dice_S"] >= d["mean_dice_A"] - 0.005)
    if a.mode == "decide":
        if not result["gate_passes"]:
            raise SystemExit("the gate did not pass: PLAN.md allows no decision run")
        fresh_a, fresh_s = pairs([a.fresh])
        cases_a, cases_s = compare.load_cases(fresh_a, WEIGHTS, "A"), compare.load_cases(fresh_s, WEIGHTS, "A")
        fa, fs = compare.summary(cases_a, cut["A"]), compare.summary(cases_s, cut["S"])
        result["fresh"] = {"A": fa, "S": fs, "A_at_pooled_rule": compare.at(cases_a, cut["A_pooled_rule"]),
                           "dice": two_level_dice([a.fresh_dice], cut["A"], cut["S"])}
        fa, fs = fa["at_cutoff"], fs["at_cutoff"]
        result["candidate_for_next_package"] = bool(
            fs["found_ge10"] >= fa["found_ge10"] + MORE_LARGE_TUMOURS and fs["fp_per_case"] <= compare.FP_BOUND
            and fs["clean"] >= 0.9 * fs["tumour_free"] and fs["clean"] >= fa["clean"])
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    for k in ("cutoffs", "gate", "gate_passes", "candidate_for_next_package"):
        if k in result:
            print(k, json.dumps(result[k]))
    for grid in ("small", "full"):
        for arm in ("A", "S", "A_at_pooled_rule"):
            r = result[grid][arm]
            print(grid, arm, f"{r['found_ge10']}/{r['n_ge10']} >=10 mm, {r['fp']} FP, clean {r['clean']}/{r['tumour_free']}")
    if "fresh" in result:
        for arm in ("A", "S"):
            r = result["fresh"][arm]["at_cutoff"]
            print("fresh", arm, f"{r['found_ge10']}/{r['n_ge10']} >=10 mm, {r['fp']} FP, clean {r['clean']}/{r['tumour_free']}")
        print("fresh dice A", result["fresh"]["dice"]["mean_dice_A"], "S", result["fresh"]["dice"]["mean_dice_S"])


if __name__ == "__main__":
    main()
