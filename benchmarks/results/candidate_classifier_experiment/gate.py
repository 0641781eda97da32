"""The gate of PLAN.md: the patch classifier's cross-validated cut-off against 0.9.0's card
limits on the 80 calibration phantoms, out of fold; and the same counts on any other set
(``--apply CUTOFF`` with the cut-off chosen on all 80, for the held-out check).

Usage: gate.py CAL_DIR [CAL_DIR ...] [--heldout DIR]
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FOLDS = 5
SEED = 24
FP_RATES = (0.125, 0.25, 0.5, 1, 2, 4, 8)


@dataclass
class Case:
    name: str
    touched: np.ndarray  # (candidates, truth) bool
    large: np.ndarray  # (truth,) bool: diameter >= 10 mm
    card: np.ndarray  # (candidates,) bool
    peak: np.ndarray
    score: np.ndarray


def load(dirs: list[Path]) -> list[Case]:
    cases = []
    for d in dirs:
        for f in sorted(d.glob("*.npz")):
            c = np.load(f)
            cases.append(Case(f"{d.name}/{f.stem}", c["touched"], c["truth_diameter_mm"] >= 10.0, c["card_keeps"],
                              c["features"][:, 1], np.load(f.with_suffix(".score.npy"))))
    return cases


def counts(cases: list[Case], keep: list[np.ndarray]) -> dict[str, float]:
    tp = fn = fp = large = large_found = free = free_clean = 0
    for c, k in zip(cases, keep):
        found = c.touched[k].any(0) if c.touched.shape[1] else np.zeros(0, bool)
        false = int((~c.touched[k].any(1)).sum()) if len(k) else 0
        tp += int(found.sum())
        fn += int((~found).sum())
        fp += false
        large += int(c.large.sum())
        large_found += int(found[c.large].sum())
        if c.touched.shape[1] == 0:
            free += 1
            free_clean += int(k.sum() == 0)
    return {"lesion_f1": 2 * tp / max(2 * tp + fp + fn, 1), "sens_ge10": large_found / max(large, 1),
            "found_ge10": large_found, "n_ge10": large, "found": tp, "n_truth": tp + fn,
            "fp_per_case": fp / len(cases), "fp": fp, "clean": free_clean, "tumour_free": free, "cases": len(cases)}


def best_cutoff(cases: list[Case]) -> float:
    """The cut-off of maximum lesion F1 (ties: the higher cut-off)."""
    grid = np.unique(np.concatenate([c.score for c in cases] + [np.array([1.01])]))
    f1 = [counts(cases, [c.score >= t for c in cases])["lesion_f1"] for t in grid]
    best = np.max(f1)
    return float(grid[max(i for i, v in enumerate(f1) if v == best)])


def froc(cases: list[Case], score_of) -> dict[str, float]:
    """Sensitivity >= 10 mm at each false-positive rate (exact sweep of the score)."""
    grid = np.unique(np.concatenate([score_of(c) for c in cases] + [np.array([np.inf])]))[::-1]
    points = [(counts(cases, [score_of(c) >= t for c in cases])) for t in grid]
    out = {}
    for rate in FP_RATES:
        ok = [p["sens_ge10"] for p in points if p["fp_per_case"] <= rate]
        out[str(rate)] = max(ok) if ok else 0.0
    out["mean"] = float(np.mean([out[str(r)] for r in FP_RATES]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cal", nargs="+", type=Path)
    ap.add_argument("--heldout", type=Path)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    cases = load(a.cal)
    rng = np.random.default_rng(SEED)
    fold = rng.permutation(np.arange(len(cases)) % FOLDS)
    keep_cv, cutoffs = [None] * len(cases), []
    for f in range(FOLDS):
        train = [c for c, g in zip(cases, fold) if g != f]
        t = best_cutoff(train)
        cutoffs.append(t)
        for i in np.nonzero(fold == f)[0]:
            keep_cv[i] = cases[i].score >= t
    result = {
        "cases": len(cases),
        "fold_cutoffs": cutoffs,
        "baseline_card_limits": counts(cases, [c.card for c in cases]),
        "classifier_out_of_fold": counts(cases, keep_cv),
        "froc_card_limits_by_peak": froc(cases, lambda c: np.where(c.card, c.peak, -1.0)),
        "froc_classifier": froc(cases, lambda c: c.score),
    }
    b, k = result["baseline_card_limits"], result["classifier_out_of_fold"]
    result["passes"] = bool(k["lesion_f1"] > b["lesion_f1"] + 0.02 and k["sens_ge10"] >= b["sens_ge10"]
                            and k["fp_per_case"] <= b["fp_per_case"])
    result["cutoff_all"] = best_cutoff(cases)
    result["all_in_sample"] = counts(cases, [c.score >= result["cutoff_all"] for c in cases])
    if a.heldout:
        held = load([a.heldout])
        result["heldout_baseline"] = counts(held, [c.card for c in held])
        result["heldout_classifier"] = counts(held, [c.score >= result["cutoff_all"] for c in held])
        result["heldout_froc_card_limits_by_peak"] = froc(held, lambda c: np.where(c.card, c.peak, -1.0))
        result["heldout_froc_classifier"] = froc(held, lambda c: c.score)
    text = json.dumps(result, indent=1)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
