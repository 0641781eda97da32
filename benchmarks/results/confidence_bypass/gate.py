"""The gate of PLAN.md: arm C (classifier score >= cut-off OR peak >= P) against arm A (the
classifier alone, demo 0.10.0), counted on the candidates of ``candidates.py``.

Usage: gate.py OUT.json CANDIDATES.json [CANDIDATES.json ...]
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

MAX_FP_PER_CASE = 0.25
FOLDS, SEED = 5, 26
MIN_GAIN_LARGE = 2


def load(paths: list[Path]) -> tuple[list[dict], float]:
    cases, cutoffs = [], set()
    for path in paths:
        record = json.loads(path.read_text())
        cutoffs.add(record["cutoff"])
        for case in record["cases"]:
            n = len(case["scores"])
            case["scores"] = np.asarray(case["scores"], dtype=float)
            case["peaks"] = np.asarray(case["peaks"], dtype=float)
            case["touches"] = np.asarray(case["touches"], dtype=bool).reshape(len(case["large"]), n)
            case["large"] = np.asarray(case["large"], dtype=bool)
            case["name"] = f"{path.stem}/{case['case']}"
            cases.append(case)
    assert len(cutoffs) == 1, cutoffs
    return cases, cutoffs.pop()


def keep(case: dict, cutoff: float, p: float) -> np.ndarray:
    return (case["scores"] >= cutoff) | (case["peaks"] >= p)


def counts(cases: list[dict], cutoff: float, p_of_case) -> dict:
    found_large = n_large = found = n_truth = fp = clean = tumour_free = 0
    for case in cases:
        kept = keep(case, cutoff, p_of_case(case))
        touched = case["touches"][:, kept].any(axis=1) if kept.any() else np.zeros(len(case["large"]), bool)
        false = int((~case["touches"][:, kept].any(axis=0)).sum()) if case["touches"].size else int(kept.sum())
        found_large += int((touched & case["large"]).sum())
        n_large += int(case["large"].sum())
        found += int(touched.sum())
        n_truth += len(case["large"])
        fp += false
        if len(case["large"]) == 0:
            tumour_free += 1
            clean += int(kept.sum() == 0)
    return {"found_ge10": found_large, "n_ge10": n_large, "sens_ge10": found_large / max(n_large, 1),
            "found": found, "n_truth": n_truth, "fp": fp, "fp_per_case": fp / len(cases),
            "clean": clean, "tumour_free": tumour_free, "cases": len(cases)}


def rule_p(cases: list[dict], cutoff: float, max_fp_per_case: float = MAX_FP_PER_CASE) -> float:
    """The lowest P among the candidates' own peaks with at most ``max_fp_per_case`` (inf: none)."""
    levels = np.unique(np.concatenate([c["peaks"] for c in cases]))[::-1]
    best = math.inf
    for p in levels:
        if counts(cases, cutoff, lambda c: p)["fp_per_case"] > max_fp_per_case:
            break
        best = float(p)
    return best


def main() -> None:
    out = Path(sys.argv[1])
    cases, cutoff = load([Path(a) for a in sys.argv[2:]])
    fold = np.random.default_rng(SEED).permutation(np.arange(len(cases)) % FOLDS)
    p_of, fold_ps = {}, []
    for f in range(FOLDS):
        p = rule_p([c for c, g in zip(cases, fold) if g != f], cutoff)
        fold_ps.append(p)
        for i in np.nonzero(fold == f)[0]:
            p_of[cases[i]["name"]] = p
    a = counts(cases, cutoff, lambda c: math.inf)
    c_oof = counts(cases, cutoff, lambda c: p_of[c["name"]])
    p_all = rule_p(cases, cutoff)
    c_all = counts(cases, cutoff, lambda c: p_all)
    passed = (c_oof["found_ge10"] >= a["found_ge10"] + MIN_GAIN_LARGE and c_oof["fp_per_case"] <= MAX_FP_PER_CASE)
    result = {"cases": len(cases), "cutoff": cutoff, "max_fp_per_case": MAX_FP_PER_CASE, "fold_p": fold_ps,
              "p_all": p_all, "a_0.10.0": a, "c_out_of_fold": c_oof, "c_in_sample_at_p_all": c_all,
              "gate_passed": bool(passed)}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
