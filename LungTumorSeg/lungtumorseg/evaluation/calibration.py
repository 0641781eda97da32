"""Choose a package's post-processing operating point on cases it was not trained on.

The operating point is the probability threshold and the lesion filter (minimum volume,
minimum peak probability, maximum elongation, maximum mean density) that
:func:`lungtumorseg.postprocess.label_lesions` applies. Voxel-pooled Dice alone hardly
notices small false-positive lesions, yet they dominate the false-positive count a reader
sees, so the choice is made on the per-case targets the held-out benchmark reports:

1. mean Dice over tumour-containing cases (the primary target),
2. among the points within ``tolerance`` of the best mean Dice, the fewest false-positive
   lesions per case, then the larger sensitivity for lesions of 10 mm and more.

Zone limits (:func:`refine_zone_limits`) come after: with the point chosen, each zone in
turn may get extra limits for its lesions (the zone networks are not equally reliable),
kept only where they win by the same rule.

Only validation (or other calibration) cases may be passed here; held-out data must never
choose the point. Everything is computed from one probability map per case: each threshold
is labelled once, each component measured once, and every filter is a selection of those
components.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Callable, Optional, Sequence

import numpy as np
import SimpleITK as sitk

from ..postprocess import LesionFilter
from ..zones import zone_of_position
from .candidates import (  # noqa: F401  (re-exported: the measures belong to the candidates, callers import them here)
    LARGE_LESION_MM, CaseCurve, FilterLike, ZoneOfCentroids, as_filters, case_candidates, component_centroids,
    component_means, component_measures, curve_from_candidates,
)



@dataclass(frozen=True)
class OperatingPoint:
    """The chosen post-processing and what it measured on the validation cases."""

    threshold: float
    min_lesion_mm3: float
    mean_dice: float
    false_positives_per_case: float
    sensitivity_large: float
    clean_fraction: float
    min_peak_probability: float = 0.0
    max_elongation: float = math.inf
    max_mean_hu: float = math.inf
    lesion_f1: float = math.nan
    zone_limits: tuple[tuple[str, LesionFilter], ...] = ()
    size_after_growth: bool = False  # the minimum volumes judge the grown outline

    @property
    def lesion_filter(self) -> LesionFilter:
        return LesionFilter(self.min_lesion_mm3, self.min_peak_probability, self.max_elongation, self.max_mean_hu,
                            self.zone_limits, size_after_growth=self.size_after_growth)


def zone_of_centroids(image: sitk.Image, lung_z_lps_mm: Optional[tuple[float, float]]) -> ZoneOfCentroids:
    """Zone names of components of an array on ``image``'s grid from their (z, y, x) index
    centroids, placed as the pipeline places lesions: the centroid's LPS z against the lungs'
    extent (``None`` for every component without the lungs' extent)."""
    def zones(centroids: np.ndarray) -> np.ndarray:
        if lung_z_lps_mm is None:
            return np.full(len(centroids), None, dtype=object)
        return np.array([zone_of_position(image.TransformContinuousIndexToPhysicalPoint(
            (float(x), float(y), float(z)))[2], lung_z_lps_mm) for z, y, x in centroids], dtype=object)
    return zones


def case_curve(
    probability: np.ndarray,
    truth: np.ndarray,
    spacing_xyz: Sequence[float],
    thresholds: Sequence[float],
    filters: Sequence[FilterLike],
    hu: np.ndarray | None = None,
    zone_of_centroids: Optional[ZoneOfCentroids] = None,
) -> CaseCurve:
    """Dice, false-positive lesions and large-lesion detections of one case for every
    (threshold, filter) pair; a bare number as filter is a minimum volume in mm³. ``hu``
    (the CT on the same grid) is needed by filters with a maximum mean density, and
    ``zone_of_centroids`` (the zone of each component, as the pipeline places it) by filters
    with zone limits.

    Components use face connectivity like the pipeline's post-processing; a predicted
    component is a true positive when it touches the truth (the benchmark's rule). The same
    as :func:`~lungtumorseg.evaluation.candidates.curve_from_candidates` of
    :func:`~lungtumorseg.evaluation.candidates.case_candidates`; keep the candidates instead
    when the case will be scored under many filters. The limits are checked against what is
    given before any labelling (the candidates check the shapes).
    """
    rules = as_filters(filters)
    if hu is None and any(r.needs_ct for r in rules):
        raise ValueError("filters with a maximum mean density need the CT (hu)")
    if zone_of_centroids is None and any(r.zone_limits for r in rules):
        raise ValueError("filters with zone limits need the zone of each component (zone_of_centroids)")
    return curve_from_candidates(case_candidates(probability, truth, spacing_xyz, thresholds, hu, zone_of_centroids),
                                 rules)


def summarise_curves(curves: Sequence[CaseCurve]) -> dict[str, np.ndarray]:
    """Per pair: mean Dice (tumour cases), false positives per case, sensitivity ≥ 10 mm,
    share of tumour-free cases without any lesion, and the pooled lesion-level F1
    ``2·TP / (2·TP + FP + FN)`` over lesions of every size (nan where a group is empty)."""
    if not curves:
        raise ValueError("no validation cases to calibrate on")
    tumour = [c for c in curves if c.has_tumour]
    free = [c for c in curves if not c.has_tumour]
    shape = curves[0].dice.shape
    nan = np.full(shape, np.nan)
    n_large = sum(c.n_large for c in curves)
    tp = sum(c.detected for c in curves)
    fp = sum(c.false_positives for c in curves)
    fn = sum(c.n_truth for c in curves) - tp
    f1_denominator = 2 * tp + fp + fn
    return {
        "mean_dice": np.mean([c.dice for c in tumour], axis=0) if tumour else nan,
        "false_positives_per_case": np.mean([c.false_positives for c in curves], axis=0),
        "sensitivity_large": sum(c.detected_large for c in curves) / n_large if n_large else nan,
        "clean_fraction": np.mean([c.false_positives == 0 for c in free], axis=0) if free else nan,
        "lesion_f1": np.where(f1_denominator > 0, 2 * tp / np.maximum(f1_denominator, 1), np.nan),
    }


#: Calibration rules: "dice" is segmentation-first; "lesion-f1" balances found tumours against
#: false findings, which three of the four demo targets count (sensitivity, FP/case, clean cases).
RULES = {
    "dice": "best mean Dice over tumour cases; within {tol} of it, fewest false positives per case, "
            "then best sensitivity for lesions >= 10 mm",
    "lesion-f1": "best pooled lesion F1 (2 TP / (2 TP + FP + FN), lesions of every size); within {tol} of it, "
                 "best mean Dice over tumour cases, then fewest false positives per case",
}


def _ranking(rule: str, dice: float, f1: float, fp: float, sens: float) -> tuple[float, tuple[float, ...]]:
    """(primary score, tie-break key to minimise) of a point under ``rule``."""
    if rule == "dice":
        return dice, (fp, -sens, -dice)
    if rule == "lesion-f1":
        return f1, (-dice, fp, -sens)
    raise ValueError(f"unknown calibration rule {rule!r}; rules are {sorted(RULES)}")


def choose_operating_point(
    summary: dict[str, np.ndarray],
    thresholds: Sequence[float],
    filters: Sequence[FilterLike],
    tolerance: float = 0.005,
    rule: str = "dice",
) -> OperatingPoint:
    """The best (threshold, filter) pair by ``rule`` (see :data:`RULES`); on a full tie the
    earlier grid entry (list the more permissive filters first)."""
    dice = np.nan_to_num(summary["mean_dice"], nan=0.0)
    f1_table = summary.get("lesion_f1", np.full(dice.shape, np.nan))
    f1 = np.nan_to_num(f1_table, nan=0.0)
    fp = summary["false_positives_per_case"]
    sens = np.nan_to_num(summary["sensitivity_large"], nan=0.0)
    scores = {(a, b): _ranking(rule, dice[a, b], f1[a, b], fp[a, b], sens[a, b]) for a, b in np.ndindex(dice.shape)}
    best = max(score for score, _ in scores.values())
    a, b = min((ab for ab, (score, _) in scores.items() if score >= best - tolerance), key=lambda ab: scores[ab][1])
    chosen = as_filters(filters)[b]
    return OperatingPoint(
        float(thresholds[a]), chosen.min_lesion_mm3, float(summary["mean_dice"][a, b]),
        float(fp[a, b]), float(summary["sensitivity_large"][a, b]), float(summary["clean_fraction"][a, b]),
        chosen.min_peak_probability, chosen.max_elongation, chosen.max_mean_hu, float(f1_table[a, b]),
        chosen.zone_limits, chosen.size_after_growth,
    )


def choose_among(points: Sequence[OperatingPoint], tolerance: float = 0.005, rule: str = "dice") -> int:
    """Index of the best of several operating points (e.g. with and without test-time
    mirroring) by the same rule; on a full tie the earlier (cheaper) one wins."""
    if not points:
        raise ValueError("no operating points to choose from")
    scores = [_ranking(rule, p.mean_dice, np.nan_to_num(p.lesion_f1), p.false_positives_per_case,
                       p.sensitivity_large) for p in points]
    best = max(score for score, _ in scores)
    return min((i for i, (score, _) in enumerate(scores) if score >= best - tolerance),
               key=lambda i: (*scores[i][1], i))


def calibration_record(
    cases: Sequence[str], thresholds: Sequence[float], filters: Sequence[FilterLike],
    summary: dict[str, np.ndarray], chosen: OperatingPoint, tolerance: float, rule: str = "dice",
) -> dict[str, Any]:
    """The card's ``metrics.threshold_calibration`` block: the full table (rows thresholds,
    columns filters, described by three parallel lists) and the choice."""
    rules = as_filters(filters)
    def table(values: np.ndarray) -> list[list[float | None]]:
        return [[None if np.isnan(v) else round(float(v), 4) for v in row] for row in values]

    return {
        "cases": sorted(cases),
        "thresholds": [float(t) for t in thresholds],
        "min_lesion_mm3": [r.min_lesion_mm3 for r in rules],
        "min_peak_probability": [r.min_peak_probability for r in rules],
        "max_elongation": [r.to_dict()["max_elongation"] for r in rules],
        "max_mean_hu": [r.to_dict()["max_mean_hu"] for r in rules],
        "rule": RULES[rule].format(tol=tolerance),
        **{name: table(values) for name, values in summary.items()},
        "chosen": {"threshold": chosen.threshold, "min_lesion_mm3": chosen.min_lesion_mm3,
                   "min_peak_probability": chosen.min_peak_probability,
                   "max_elongation": chosen.lesion_filter.to_dict()["max_elongation"],
                   "max_mean_hu": chosen.lesion_filter.to_dict()["max_mean_hu"],
                   **({"zone_limits": chosen.lesion_filter.to_dict()["zone_limits"]} if chosen.zone_limits else {}),
                   "mean_dice": round(chosen.mean_dice, 4),
                   "false_positives_per_case": round(chosen.false_positives_per_case, 3),
                   "sensitivity_large": round(chosen.sensitivity_large, 3),
                   "clean_fraction": None if np.isnan(chosen.clean_fraction) else round(chosen.clean_fraction, 3),
                   "lesion_f1": None if np.isnan(chosen.lesion_f1) else round(chosen.lesion_f1, 3)},
        "note": "chosen on cases the weights were not trained on (never the held-out phantoms); "
                "synthetic phantoms, not clinical accuracy",
    }


def _tightens(base: LesionFilter, limit: LesionFilter) -> bool:
    """Whether ``limit`` as an extra limit would reject anything ``base`` keeps."""
    return (limit.min_lesion_mm3 > base.min_lesion_mm3 or limit.min_peak_probability > base.min_peak_probability
            or limit.max_elongation < base.max_elongation or limit.max_mean_hu < base.max_mean_hu)


def zone_limit_candidates(base: LesionFilter, zone: str, limits: Sequence[LesionFilter]) -> list[LesionFilter]:
    """``base`` (unchanged in ``zone``) first, then ``base`` with each of ``limits`` that
    would tighten it as the extra limit of ``zone``."""
    return [base] + [base.with_zone_limit(zone, limit) for limit in limits if _tightens(base, limit)]


def refine_zone_limits(
    evaluate: Callable[[list[LesionFilter]], dict[str, np.ndarray]],
    start: OperatingPoint,
    zones: Sequence[str],
    limits: Sequence[LesionFilter],
    tolerance: float = 0.005,
    rule: str = "dice",
) -> tuple[OperatingPoint, list[dict[str, Any]]]:
    """Zone limits on top of a chosen operating point, one zone at a time.

    For each zone in turn, ``evaluate`` (the calibration cases' summary, as
    :func:`summarise_curves` gives it, at the start's threshold, one column per filter) is
    asked for the current filter and for it with every tightening extra limit in that zone;
    the best by ``rule`` is kept — the current filter on a tie, so a zone gets a limit only
    when that measurably helps on the calibration cases. Returns the final point and one
    record per zone (what was chosen there and what it measured).
    """
    point, steps = start, []
    for zone in zones:
        candidates = zone_limit_candidates(point.lesion_filter, zone, limits)
        summary = evaluate(candidates)
        chosen = choose_operating_point(summary, [point.threshold], candidates, tolerance, rule)
        extra = dict(chosen.zone_limits).get(zone)
        steps.append({"zone": zone, "candidates": len(candidates),
                      "limit": extra.to_dict() if extra is not None else None,
                      "mean_dice": round(chosen.mean_dice, 4),
                      "false_positives_per_case": round(chosen.false_positives_per_case, 3),
                      "sensitivity_large": round(chosen.sensitivity_large, 3),
                      "lesion_f1": None if np.isnan(chosen.lesion_f1) else round(chosen.lesion_f1, 3)})
        point = chosen
    return point, steps
