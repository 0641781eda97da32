"""How well a calibration procedure's operating point holds on cases it was not chosen on.

Repeated stratified k-fold cross-validation over calibration cases: in each fold the
procedure (:class:`~.procedures.CalibrationProcedure`) chooses its point on the other folds
and that point is scored on the fold; the out-of-fold outcomes of all cases are pooled into
the issue's four measures and the lesion F1, then averaged over repeats. A procedure with
many free limits fits the cases it chose on better and may generalise worse; this is the
number that tells them apart without touching held-out data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .calibration import OperatingPoint, summarise_curves
from .candidates import CaseCandidates, CaseCurve, curve_from_candidates
from .procedures import CalibrationProcedure
from .targets import targets_met

MEASURES = ("mean_dice", "sensitivity_large", "false_positives_per_case", "clean_fraction", "lesion_f1")


def stratified_folds(has_tumour: Sequence[bool], k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``k`` disjoint index sets covering every case, tumour and tumour-free cases each dealt
    round-robin after a shuffle, so every fold has both kinds in about the overall proportion."""
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {k}")
    if len(has_tumour) < k:
        raise ValueError(f"{len(has_tumour)} cases cannot be split into {k} folds")
    flags = np.asarray(has_tumour, dtype=bool)
    dealt = np.concatenate([rng.permutation(np.flatnonzero(flags)), rng.permutation(np.flatnonzero(~flags))])
    return [np.sort(dealt[i::k]) for i in range(k)]


def score_point(point: OperatingPoint, case: CaseCandidates) -> CaseCurve:
    """The case's outcome at ``point`` (a 1 × 1 curve)."""
    return curve_from_candidates(case, [point.lesion_filter], [point.threshold])


def pooled_measures(curves: Sequence[CaseCurve]) -> dict[str, float]:
    """The four target measures and the lesion F1 over ``curves`` (1 × 1 each)."""
    summary = summarise_curves(curves)
    return {name: float(summary[name][0, 0]) for name in MEASURES}


@dataclass
class CrossValidation:
    """Out-of-fold results of one procedure: per repeat the pooled measures, per fold the point."""

    procedure: str
    folds: int
    repeats: list[dict[str, float]] = field(default_factory=list)
    points: list[OperatingPoint] = field(default_factory=list)

    def mean(self) -> dict[str, float]:
        """Each measure averaged over repeats (NaN repeats ignored, NaN when all are)."""
        out = {}
        for name in MEASURES:
            values = np.array([r[name] for r in self.repeats], dtype=float)
            out[name] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        return out

    def targets_met(self) -> int:
        return targets_met(self.mean())

    def threshold_spread(self) -> dict[str, Any]:
        """How steady the choice is: the thresholds chosen across all folds and repeats."""
        thresholds = [p.threshold for p in self.points]
        values, counts = np.unique(np.round(thresholds, 2), return_counts=True)
        return {"chosen": {f"{v:.2f}": int(c) for v, c in zip(values, counts)},
                "most_common_share": float(counts.max() / counts.sum()) if counts.size else float("nan")}

    def to_dict(self) -> dict[str, Any]:
        mean = self.mean()
        return {"procedure": self.procedure, "folds": self.folds, "repeats": len(self.repeats),
                "mean": {k: round(v, 4) for k, v in mean.items()}, "targets_met": targets_met(mean),
                "per_repeat": [{k: round(v, 4) for k, v in r.items()} for r in self.repeats],
                "thresholds": self.threshold_spread(),
                "points": [point_dict(p) for p in self.points]}


def point_dict(point: OperatingPoint) -> dict[str, Any]:
    """An operating point as the card writes its limits, plus what it measured where it was chosen."""
    return {"threshold": point.threshold, **point.lesion_filter.to_dict(),
            "chosen_on": {"mean_dice": round(point.mean_dice, 4), "lesion_f1": round(float(point.lesion_f1), 4),
                          "false_positives_per_case": round(point.false_positives_per_case, 3),
                          "sensitivity_large": round(point.sensitivity_large, 3)}}


def cross_validate(procedure: CalibrationProcedure, cases: Sequence[CaseCandidates], folds: int = 5,
                   repeats: int = 4, seed: int = 21) -> CrossValidation:
    """Repeated stratified ``folds``-fold cross-validation of ``procedure`` on ``cases``. The fold
    assignment depends only on ``seed`` and the cases' tumour flags, so every procedure given
    the same cases and seed is judged on the same splits."""
    rng = np.random.default_rng(seed)
    result = CrossValidation(procedure.name, folds)
    flags = [c.n_truth > 0 for c in cases]
    for _ in range(repeats):
        outcome: list[CaseCurve | None] = [None] * len(cases)
        for test in stratified_folds(flags, folds, rng):
            held = set(test.tolist())
            point, _ = procedure.choose([c for i, c in enumerate(cases) if i not in held])
            result.points.append(point)
            for i in test:
                outcome[i] = score_point(point, cases[i])
        result.repeats.append(pooled_measures(outcome))
    return result


def choose_procedure(results: Sequence[CrossValidation], simplest_first: Sequence[str],
                     tolerance: float = 0.005) -> CrossValidation:
    """The procedure to ship: the most issue targets met out of fold, then the best pooled
    lesion F1, except that the simplest procedure (order ``simplest_first``) within
    ``tolerance`` of that F1 wins: fewer free limits, less fitted to the calibration cases."""
    if not results:
        raise ValueError("no cross-validation results to choose from")
    rank = {name: i for i, name in enumerate(simplest_first)}
    unknown = [r.procedure for r in results if r.procedure not in rank]
    if unknown:
        raise ValueError(f"procedures missing from the simplicity order: {unknown}")
    most = max(r.targets_met() for r in results)
    contenders = [r for r in results if r.targets_met() == most]
    f1 = {r.procedure: np.nan_to_num(r.mean()["lesion_f1"]) for r in contenders}
    best = max(f1.values())
    return min((r for r in contenders if f1[r.procedure] >= best - tolerance), key=lambda r: rank[r.procedure])

