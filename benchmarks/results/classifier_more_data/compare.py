"""Gate and decision of PLAN.md: the retrained candidate classifier against 0.10.0's.

Both classifiers score the same candidates (``extract.py`` patches of 0.10.0's maps, eight
test-time flips); each gets its own cut-off by 0.10.0's rule on the calibration candidates
(the lowest cut-off with <= 0.15 false positives per case, midway between the boundary
scores); counts are on thresholded components, as in ``../candidate_classifier_experiment``.

Usage:
  compare.py gate   OLD.safetensors NEW.safetensors --cal DIR [DIR ...] --out gate.json
  compare.py decide OLD.safetensors NEW.safetensors --cal DIR [DIR ...] --fresh DIR
                    [--report DIR ...] --out decision.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "candidate_classifier_experiment"))

import classifier  # noqa: E402  (0.10.0's network and test-time scoring)
import gate as counting  # noqa: E402  (0.10.0's Case, counts and FROC)

FP_BOUND = 0.15
FOLDS = 5
SEED = 24
MORE_LARGE_TUMOURS = 2


def scores_of(weights: Path, tag: str, directory: Path) -> dict[str, np.ndarray]:
    """Scores of every case's candidates, kept beside the npz as ``<case>.<tag>.npy``."""
    net = classifier.network()
    net.load_state_dict(load_file(str(weights)))
    net.eval()
    out = {}
    for f in sorted(directory.glob("*.npz")):
        target = f.with_suffix(f".{tag}.npy")
        if not target.is_file():
            np.save(target, classifier.score_patches(net, np.load(f)["patches"]))
        out[f.stem] = np.load(target)
    return out


def load_cases(dirs: list[Path], weights: Path, tag: str) -> list[counting.Case]:
    cases = []
    for d in dirs:
        scores = scores_of(weights, tag, d)
        for f in sorted(d.glob("*.npz")):
            c = np.load(f)
            cases.append(counting.Case(f"{d.name}/{f.stem}", c["touched"], c["truth_diameter_mm"] >= 10.0,
                                       c["card_keeps"], c["features"][:, 1], scores[f.stem]))
    return cases


def rule_cutoff(cases: list[counting.Case]) -> float:
    """The lowest cut-off with <= FP_BOUND false positives per case, placed midway between the
    lowest kept score and the highest score below it (0.10.0's rule)."""
    levels = np.unique(np.concatenate([c.score for c in cases]))[::-1]
    lowest_ok = None
    for t in levels:
        if counting.counts(cases, [c.score >= t for c in cases])["fp_per_case"] <= FP_BOUND:
            lowest_ok = t
    if lowest_ok is None:
        return float(levels[0]) + 1e-6
    below = levels[levels < lowest_ok]
    return float((lowest_ok + below[0]) / 2) if below.size else float(lowest_ok) / 2


def at(cases: list[counting.Case], cutoff: float) -> dict:
    return counting.counts(cases, [c.score >= cutoff for c in cases])


def cross_validated(cases: list[counting.Case]) -> dict:
    fold = np.random.default_rng(SEED).permutation(np.arange(len(cases)) % FOLDS)
    keep, cutoffs = [None] * len(cases), []
    for f in range(FOLDS):
        t = rule_cutoff([c for c, g in zip(cases, fold) if g != f])
        cutoffs.append(t)
        for i in np.nonzero(fold == f)[0]:
            keep[i] = cases[i].score >= t
    return {"fold_cutoffs": cutoffs, **counting.counts(cases, keep)}


def summary(cases: list[counting.Case], cutoff: float) -> dict:
    return {"at_cutoff": at(cases, cutoff), "froc": counting.froc(cases, lambda c: c.score),
            "every_candidate": counting.counts(cases, [np.ones(len(c.score), bool) for c in cases])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["gate", "decide"])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--cal", nargs="+", type=Path, required=True)
    ap.add_argument("--fresh", type=Path)
    ap.add_argument("--report", nargs="*", type=Path, default=[])
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    torch.set_num_threads(2)
    arms = {"0.10.0": (a.old, "old"), "retrained": (a.new, "new")}
    result: dict = {"fp_bound_per_case": FP_BOUND}
    cutoffs = {}
    for name, (weights, tag) in arms.items():
        cal = load_cases(a.cal, weights, tag)
        cutoffs[name] = rule_cutoff(cal)
        result[f"calibration {name}"] = {"cutoff": cutoffs[name], **summary(cal, cutoffs[name]),
                                         "cross_validated": cross_validated(cal)}
    old, new = result["calibration 0.10.0"], result["calibration retrained"]
    result["gate_passes"] = bool(
        new["at_cutoff"]["found_ge10"] >= old["at_cutoff"]["found_ge10"] + MORE_LARGE_TUMOURS
        and new["froc"]["mean"] >= old["froc"]["mean"])
    if a.mode == "decide":
        if not result["gate_passes"]:
            raise SystemExit("the gate did not pass: PLAN.md allows no decision run")
        for d in [a.fresh, *a.report]:
            for name, (weights, tag) in arms.items():
                cases = load_cases([d], weights, tag)
                result[f"{d.name} {name}"] = summary(cases, cutoffs[name])
        o, n = result[f"{a.fresh.name} 0.10.0"]["at_cutoff"], result[f"{a.fresh.name} retrained"]["at_cutoff"]
        no_worse = n["found_ge10"] >= o["found_ge10"] and n["fp_per_case"] <= o["fp_per_case"]
        better = n["found_ge10"] > o["found_ge10"] or n["fp_per_case"] < o["fp_per_case"]
        result["ships"] = bool(no_worse and better)
    text = json.dumps(result, indent=1)
    a.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
