"""Free-response ROC (FROC) of a package's lesions and its CPM summary.

A single operating point hides how a detector trades found tumours for false findings: two
networks can differ only in how readily they call anything tumour. The FROC curve, the
standard of lung-nodule detection (LUNA16: Setio et al., "Validation, comparison, and
combination of algorithms for automatic detection of pulmonary nodules in computed
tomography images: the LUNA16 challenge", Medical Image Analysis 42, 2017), plots lesion
sensitivity against false-positive lesions per case as a lesion score threshold moves; its
CPM (competition performance metric) is the mean sensitivity at 1/8, 1/4, 1/2, 1, 2, 4 and
8 false positives per case.

Here a lesion's score is its **peak tumour probability**: the candidates are the
components of the probability map at the package's threshold that pass every other limit
of its lesion filter (minimum volume, elongation, density, zone limits), and the curve
sweeps the minimum peak probability. A candidate is a true positive when it touches a
truth tumour (the benchmark's rule); sensitivity counts truth tumours touched.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from scipy import ndimage as ndi

from ..postprocess import LesionFilter
from .calibration import CaseCurve
from .lesions import label_components

#: False positives per case at which the CPM averages the sensitivity (LUNA16).
CPM_FP_RATES: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: Minimum peak probabilities swept by default (0 keeps every candidate that passes the
#: other limits); finer near 1, where confident candidates separate.
PEAK_LEVELS: tuple[float, ...] = tuple(float(v) for v in np.round(np.arange(0.0, 0.99, 0.02), 2)) + (
    0.99, 0.995, 0.999, 1.0)


def candidate_peaks(probability: np.ndarray, threshold: float) -> np.ndarray:
    """Peak probability of every component of ``probability >= threshold`` (face
    connectivity, as the pipeline labels lesions). Sweeping exactly these values (with
    :data:`PEAK_LEVELS`) makes the curve exact: between two of them no candidate changes."""
    labels, n = label_components(np.asarray(probability) >= threshold)
    if n == 0:
        return np.zeros(0)
    return np.asarray(ndi.maximum(probability, labels, np.arange(1, n + 1)), dtype=np.float64)


def sweep_levels(peaks: Sequence[np.ndarray], extra: Sequence[float] = ()) -> list[float]:
    """The peak levels of an exact FROC: :data:`PEAK_LEVELS`, ``extra`` (e.g. the card's own
    limit) and every candidate peak of every case, sorted and unique."""
    values = set(PEAK_LEVELS) | {float(v) for v in extra}
    for case_peaks in peaks:
        values |= {float(v) for v in np.asarray(case_peaks).ravel() if 0.0 <= v <= 1.0}
    return sorted(values)


def froc_filters(rule: LesionFilter, peak_levels: Sequence[float] = PEAK_LEVELS) -> list[LesionFilter]:
    """``rule`` once per peak level, its minimum peak probability replaced by that level
    (zone limits kept; outline growth dropped, it never changes detection)."""
    return [replace(rule, min_peak_probability=float(level), outline_growth=None) for level in peak_levels]


@dataclass(frozen=True)
class FrocCurve:
    """Sensitivity and false positives per case at each peak level (same order)."""

    peak_levels: np.ndarray
    false_positives_per_case: np.ndarray
    sensitivity: np.ndarray
    n_lesions: int
    n_cases: int

    def sensitivity_at(self, fp_rate: float) -> float:
        """The highest sensitivity the curve reaches with at most ``fp_rate`` false positives
        per case (a conservative step reading of the curve; beyond the curve's largest
        false-positive rate it stays at the curve's largest sensitivity)."""
        allowed = self.false_positives_per_case <= fp_rate + 1e-12
        return float(self.sensitivity[allowed].max()) if allowed.any() else 0.0

    def cpm(self, fp_rates: Sequence[float] = CPM_FP_RATES) -> float:
        """Mean sensitivity at ``fp_rates`` false positives per case."""
        return float(np.mean([self.sensitivity_at(r) for r in fp_rates]))

    @property
    def max_false_positives_per_case(self) -> float:
        """The largest false-positive rate the candidates reach (the curve's right end)."""
        return float(self.false_positives_per_case.max())

    @classmethod
    def from_dict(cls, record: dict) -> "FrocCurve":
        """The curve written by :meth:`to_dict` (e.g. to draw two models' curves together)."""
        return cls(np.asarray(record["peak_levels"], dtype=np.float64),
                   np.asarray(record["false_positives_per_case"], dtype=np.float64),
                   np.asarray(record["sensitivity"], dtype=np.float64), int(record["n_lesions"]),
                   int(record["n_cases"]))

    def to_dict(self, fp_rates: Sequence[float] = CPM_FP_RATES) -> dict:
        """JSON-ready: the curve, the sensitivity at each CPM rate and the CPM."""
        return {
            "lesion_score": "peak tumour probability",
            "n_lesions": self.n_lesions,
            "n_cases": self.n_cases,
            "peak_levels": [float(v) for v in self.peak_levels],
            "false_positives_per_case": [float(v) for v in self.false_positives_per_case],
            "sensitivity": [float(v) for v in self.sensitivity],
            "sensitivity_at_fp_rate": {f"{r:g}": self.sensitivity_at(r) for r in fp_rates},
            "max_false_positives_per_case": self.max_false_positives_per_case,
            "cpm": self.cpm(fp_rates),
        }


def froc_curve(curves: Sequence[CaseCurve], peak_levels: Sequence[float], large_only: bool = False) -> FrocCurve:
    """The FROC of cases whose :class:`CaseCurve` was computed with one threshold and the
    filters of :func:`froc_filters` (one column per peak level). ``large_only`` counts only
    truth tumours of 10 mm and more in the sensitivity (false positives are all counted)."""
    if not curves:
        raise ValueError("no cases for a FROC curve")
    shapes = {c.false_positives.shape for c in curves}
    if shapes != {(1, len(peak_levels))}:
        raise ValueError(f"each case curve must have shape (1, {len(peak_levels)}) (one threshold, one filter per "
                         f"peak level), got {sorted(shapes)}")
    found = sum((c.detected_large if large_only else c.detected)[0] for c in curves)
    n_lesions = sum(c.n_large if large_only else c.n_truth for c in curves)
    fp = np.mean([c.false_positives[0] for c in curves], axis=0)
    sensitivity = found / n_lesions if n_lesions else np.full(len(peak_levels), np.nan)
    return FrocCurve(np.asarray(peak_levels, dtype=np.float64), fp.astype(np.float64),
                     np.asarray(sensitivity, dtype=np.float64), int(n_lesions), len(curves))
