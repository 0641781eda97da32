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

A package with a **candidate classifier** (:mod:`lungtumorseg.candidate_check`) judges the
candidates its lesion filter keeps by the classifier's score, so its meaningful lesion score
is that score: :func:`scored_candidates` gives one case's kept candidates with any
per-candidate score and the truth tumours each touches, and :func:`scored_froc_curve` sweeps
the minimum score exactly (every candidate's own score is a level); the card's point is then
the classifier's cut-off (:meth:`FrocCurve.point_at`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from ..postprocess import LesionFilter, label_lesions
from .calibration import CaseCurve
from .candidates import LARGE_LESION_MM
from .lesions import equivalent_diameter_mm, label_components

#: False positives per case at which the CPM averages the sensitivity (LUNA16).
CPM_FP_RATES: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: Minimum peak probabilities swept by default (0 keeps every candidate that passes the
#: other limits); finer near 1, where confident candidates separate.
PEAK_LEVELS: tuple[float, ...] = tuple(float(v) for v in np.round(np.arange(0.0, 0.99, 0.02), 2)) + (
    0.99, 0.995, 0.999, 1.0)
#: The lesion score of the curves of :func:`froc_curve` (and of records that do not name one).
PEAK_SCORE = "peak tumour probability"
#: The lesion score of a package's candidate classifier (:mod:`lungtumorseg.candidate_check`).
CLASSIFIER_SCORE = "candidate classifier score"
#: Scores of the candidates of one case: (labels 1..N on a crop of the CT's grid, the whole CT,
#: the whole probability map) -> label -> score, e.g. ``CandidateCheck.scores``.
CandidateScorer = Callable[[sitk.Image, sitk.Image, sitk.Image], Mapping[int, float]]


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
    """Sensitivity and false positives per case at each level of the lesion score (same
    order). ``peak_levels`` holds the levels of whatever score ``lesion_score`` names (peak
    probabilities by default, classifier scores for :func:`scored_froc_curve`)."""

    peak_levels: np.ndarray
    false_positives_per_case: np.ndarray
    sensitivity: np.ndarray
    n_lesions: int
    n_cases: int
    lesion_score: str = PEAK_SCORE

    def point_at(self, level: float) -> tuple[float, float]:
        """(false positives per case, sensitivity) at exactly ``level`` of the score (e.g. the
        card's minimum peak or the classifier's cut-off); ValueError when it is not a level."""
        hits = np.flatnonzero(self.peak_levels == float(level))
        if hits.size == 0:
            raise ValueError(f"{level} is not a level of this curve")
        return float(self.false_positives_per_case[hits[0]]), float(self.sensitivity[hits[0]])

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
        levels = record["peak_levels"] if "peak_levels" in record else record["score_levels"]
        return cls(np.asarray(levels, dtype=np.float64),
                   np.asarray(record["false_positives_per_case"], dtype=np.float64),
                   np.asarray(record["sensitivity"], dtype=np.float64), int(record["n_lesions"]),
                   int(record["n_cases"]), str(record.get("lesion_score", PEAK_SCORE)))

    def to_dict(self, fp_rates: Sequence[float] = CPM_FP_RATES) -> dict:
        """JSON-ready: the curve, the sensitivity at each CPM rate and the CPM. The levels are
        ``peak_levels`` for peak-probability curves (as ever), ``score_levels`` otherwise."""
        levels_key = "peak_levels" if self.lesion_score == PEAK_SCORE else "score_levels"
        return {
            "lesion_score": self.lesion_score,
            "n_lesions": self.n_lesions,
            "n_cases": self.n_cases,
            levels_key: [float(v) for v in self.peak_levels],
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


@dataclass(frozen=True)
class ScoredCandidates:
    """One case's lesion candidates (those its lesion filter keeps), each with a score, and
    the truth tumours of the case."""

    scores: np.ndarray  # (n,) the candidates' scores, label 1..n order
    touches: np.ndarray  # (n_truth, n) bool: truth tumour i shares a voxel with candidate j
    large: np.ndarray  # (n_truth,) bool: truth tumour of LARGE_LESION_MM or more (equivalent diameter)

    @property
    def n_truth(self) -> int:
        return int(self.large.size)


def _box_of(mask: np.ndarray) -> Optional[tuple[list[int], list[int]]]:
    """(index, size) in SimpleITK (x, y, z) order of the box around ``mask`` (z, y, x); None if empty."""
    if not mask.any():
        return None
    spans = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3)]
    return [int(s[0]) for s in spans][::-1], [int(s[-1] - s[0] + 1) for s in spans][::-1]


def scored_candidates(
    probability: sitk.Image, ct: sitk.Image, truth: np.ndarray, threshold: float, rule: LesionFilter,
    score: CandidateScorer, lung_z_lps_mm: Optional[tuple[float, float]] = None,
) -> ScoredCandidates:
    """The components of ``probability >= threshold`` that ``rule`` keeps (every limit, zone
    limits placed by ``lung_z_lps_mm``; outline growth dropped, it never changes which lesions
    exist), labelled by :func:`lungtumorseg.postprocess.label_lesions` on the box of the voxels
    at or above the threshold as the pipeline labels them, each scored by ``score`` (given the
    whole CT and map, as the pipeline's candidate check sees them), and which truth tumours
    (components of ``truth > 0``, face connectivity; array on ``ct``'s grid) each touches."""
    if rule.size_after_growth and rule.outline_growth is not None:
        raise ValueError("candidates judged by a score cannot be combined with size limits on the grown outline")
    prob = sitk.GetArrayViewFromImage(probability)
    ref = np.asarray(truth) > 0
    if ref.shape != prob.shape or sitk.GetArrayViewFromImage(ct).shape != prob.shape:
        raise ValueError(f"probability {prob.shape}, CT {sitk.GetArrayViewFromImage(ct).shape} and truth "
                         f"{ref.shape} must share one grid")
    t_lab, n_t = label_components(ref)
    voxel_mm3 = float(np.prod(probability.GetSpacing()))
    t_size = np.bincount(t_lab.ravel(), minlength=n_t + 1)[1:]
    large = np.array([equivalent_diameter_mm(v * voxel_mm3) >= LARGE_LESION_MM for v in t_size], dtype=bool)
    box = _box_of(prob >= threshold)
    if box is None:
        return ScoredCandidates(np.zeros(0), np.zeros((n_t, 0), dtype=bool), large)
    index, size = box
    labels = label_lesions(sitk.RegionOfInterest(probability, size, index), threshold,
                           replace(rule, outline_growth=None), ct=sitk.RegionOfInterest(ct, size, index),
                           lung_z_lps_mm=lung_z_lps_mm)
    lab = sitk.GetArrayFromImage(labels).astype(np.int64)
    n = int(lab.max())
    by_label = score(labels, ct, probability) if n else {}
    missing = sorted(set(range(1, n + 1)) - {int(k) for k in by_label})
    if missing:
        raise ValueError(f"the scorer gave no score to candidate(s) {missing}")
    scores = np.array([float(by_label[k]) for k in range(1, n + 1)], dtype=np.float64)
    crop = tuple(slice(i, i + s) for i, s in zip(index[::-1], size[::-1]))
    both = (lab > 0) & (t_lab[crop] > 0)
    touches = np.zeros((n_t + 1, n + 1), dtype=bool)
    touches[t_lab[crop][both], lab[both]] = True
    return ScoredCandidates(scores, touches[1:, 1:], large)


def score_levels(scores: Sequence[np.ndarray], extra: Sequence[float] = (),
                 grid: Sequence[float] = PEAK_LEVELS) -> list[float]:
    """The levels of an exact FROC of scored candidates: ``grid`` (default the peak-level grid,
    for scores between 0 and 1; ``()`` for other scores), ``extra`` (e.g. the classifier's
    cut-off) and every candidate's score, sorted and unique."""
    values = {float(v) for v in grid} | {float(v) for v in extra}
    for case_scores in scores:
        values |= {float(v) for v in np.asarray(case_scores, dtype=np.float64).ravel()}
    return sorted(values)


def scored_froc_curve(cases: Sequence[ScoredCandidates], levels: Sequence[float], large_only: bool = False,
                      lesion_score: str = CLASSIFIER_SCORE) -> FrocCurve:
    """The FROC of candidates kept when their score is at least each of ``levels`` (as the
    pipeline keeps a candidate whose classifier score reaches the cut-off): false positives
    (kept candidates touching no truth tumour) per case, and the share of truth tumours some
    kept candidate touches. ``large_only`` counts only truth tumours of 10 mm and more in the
    sensitivity (false positives are all counted)."""
    if not cases:
        raise ValueError("no cases for a FROC curve")
    level = np.asarray(levels, dtype=np.float64)[:, None]
    fp = np.zeros(len(level))
    found = np.zeros(len(level))
    for case in cases:
        keep = case.scores[None, :] >= level  # (levels, candidates)
        fp += (keep & ~case.touches.any(axis=0)[None, :]).sum(axis=1)
        hit = (keep[:, None, :] & case.touches[None, :, :]).any(axis=2)  # (levels, truth)
        found += (hit[:, case.large] if large_only else hit).sum(axis=1)
    n_lesions = sum(int(c.large.sum()) if large_only else c.n_truth for c in cases)
    sensitivity = found / n_lesions if n_lesions else np.full(len(level), np.nan)
    return FrocCurve(level[:, 0].copy(), fp / len(cases), np.asarray(sensitivity, dtype=np.float64), n_lesions,
                     len(cases), lesion_score)
