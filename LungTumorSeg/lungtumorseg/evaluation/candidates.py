"""Every lesion candidate of one calibration case, measured once, so that any lesion filter
can be scored without touching the probability map again.

A calibration case's outcome at a (threshold, lesion filter) pair depends only on the
components of ``probability >= threshold``: their volume, peak probability, elongation,
mean density and zone (what :class:`lungtumorseg.postprocess.LesionFilter` looks at) and
which truth lesions each one touches. :func:`case_candidates` labels each threshold once
and keeps exactly that; :func:`curve_from_candidates` turns it into a :class:`CaseCurve`
for any list of filters (about 70 ms per phantom for 16 thresholds × 300 filters, where
labelling the map again takes seconds). This is what makes cross-validating a calibration
procedure (choosing a point hundreds of times on different subsets of cases) cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Union

import numpy as np

from ..outline import OutlineGrowth, grow_label_array
from ..postprocess import LesionFilter, elongation_from_covariance
from .lesions import equivalent_diameter_mm, label_components

FilterLike = Union[LesionFilter, float]
#: Zone names of components from their centroids, (n, 3) voxel indices in (z, y, x) order.
ZoneOfCentroids = Callable[[np.ndarray], np.ndarray]

#: Truth lesions at least this large (equivalent diameter) count for the issue's sensitivity target.
LARGE_LESION_MM = 10.0


@dataclass
class CaseCurve:
    """One case's outcome at every (threshold, filter) pair: arrays of shape (T, F)."""

    dice: np.ndarray
    false_positives: np.ndarray
    detected: np.ndarray
    detected_large: np.ndarray
    n_truth: int
    n_large: int

    @property
    def has_tumour(self) -> bool:
        return self.n_truth > 0


def as_filters(filters: Sequence[FilterLike]) -> list[LesionFilter]:
    """Filters from a mixed list: a bare number is a minimum volume in mm³."""
    return [f if isinstance(f, LesionFilter) else LesionFilter(min_lesion_mm3=float(f)) for f in filters]


def component_measures(
    labels: np.ndarray, n: int, probability: np.ndarray, spacing_xyz: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Volume (mm³), peak probability and elongation of components 1..n of ``labels``.

    The elongation is computed as :mod:`lungtumorseg.postprocess` computes it (positional
    covariance of the voxel boxes); the eigenvalues do not depend on the image direction,
    so the voxel frame scaled by the spacing is used.
    """
    if n == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    spacing_zyx = np.asarray(spacing_xyz, dtype=np.float64)[::-1]
    inside = np.nonzero(labels)
    which = labels[inside].astype(np.int64) - 1
    count = np.bincount(which, minlength=n).astype(np.float64)
    peak = np.full(n, -np.inf)
    np.maximum.at(peak, which, np.asarray(probability)[inside].astype(np.float64))
    coords = [inside[a].astype(np.float64) * spacing_zyx[a] for a in range(3)]
    mean = [np.bincount(which, weights=c, minlength=n) / count for c in coords]
    covariance = np.zeros((n, 3, 3))
    for a in range(3):
        for b in range(a, 3):
            centred = (coords[a] - mean[a][which]) * (coords[b] - mean[b][which])
            covariance[:, a, b] = covariance[:, b, a] = np.bincount(which, weights=centred, minlength=n) / count
    covariance += np.diag(np.square(spacing_zyx) / 12.0)
    elongation = np.asarray(elongation_from_covariance(covariance), dtype=np.float64)
    return count * float(np.prod(spacing_zyx)), peak, elongation


def component_centroids(labels: np.ndarray, n: int) -> np.ndarray:
    """(n, 3) mean voxel index (z, y, x) of each of components 1..n of ``labels``."""
    if n == 0:
        return np.zeros((0, 3))
    inside = np.nonzero(labels)
    which = labels[inside].astype(np.int64) - 1
    count = np.bincount(which, minlength=n).astype(np.float64)
    return np.stack([np.bincount(which, weights=inside[a], minlength=n) / count for a in range(3)], axis=1)


def component_means(labels: np.ndarray, n: int, values: np.ndarray) -> np.ndarray:
    """Mean of ``values`` (e.g. HU) over each of components 1..n of ``labels``."""
    if n == 0:
        return np.zeros(0)
    inside = np.nonzero(labels)
    which = labels[inside].astype(np.int64) - 1
    sums = np.bincount(which, weights=np.asarray(values)[inside].astype(np.float64), minlength=n)
    return sums / np.bincount(which, minlength=n)




@dataclass(frozen=True)
class GrownOutlines:
    """The same components after outline growth (all grown together, largest first, as
    :func:`lungtumorseg.outline.grow_outlines` grows a label image)."""

    volume_mm3: np.ndarray  # (n,)
    overlap_voxels: np.ndarray  # (n,) truth voxels inside each grown outline
    touches: np.ndarray  # (n_truth, n) bool


@dataclass(frozen=True)
class ThresholdCandidates:
    """The components of ``probability >= threshold`` (n of them) and how they meet the truth."""

    volume_mm3: np.ndarray  # (n,)
    peak: np.ndarray  # (n,) highest probability inside
    elongation: np.ndarray  # (n,) as lungtumorseg.postprocess measures it
    mean_hu: np.ndarray  # (n,) -inf when the CT was not given
    zone: Optional[np.ndarray]  # (n,) zone names (object), None when zones were not given
    overlap_voxels: np.ndarray  # (n,) truth voxels inside each component
    touches: np.ndarray  # (n_truth, n) bool: truth lesion i shares a voxel with component j
    grown: Optional[GrownOutlines] = None  # when the candidates were measured with outline growth


@dataclass(frozen=True)
class CaseCandidates:
    """One case's candidates at every threshold of a grid, with the truth's lesion count."""

    thresholds: tuple[float, ...]
    at_threshold: tuple[ThresholdCandidates, ...]
    large: np.ndarray  # (n_truth,) bool: truth lesion of >= LARGE_LESION_MM
    truth_voxels: int
    voxel_mm3: float
    has_ct: bool
    has_zones: bool
    #: the outline growth the components were also measured after (None: not grown)
    growth: Optional[OutlineGrowth] = None

    @property
    def n_truth(self) -> int:
        return int(self.large.size)

    def index_of(self, threshold: float) -> int:
        """Position of ``threshold`` in the grid (ValueError when it was not measured)."""
        hits = np.flatnonzero(np.isclose(self.thresholds, threshold, rtol=0.0, atol=1e-9))
        if hits.size == 0:
            raise ValueError(f"threshold {threshold} was not measured (grid {self.thresholds})")
        return int(hits[0])


def case_candidates(
    probability: np.ndarray,
    truth: np.ndarray,
    spacing_xyz: Sequence[float],
    thresholds: Sequence[float],
    hu: np.ndarray | None = None,
    zone_of_centroids: Optional[ZoneOfCentroids] = None,
    growth: Optional[OutlineGrowth] = None,
) -> CaseCandidates:
    """Label ``probability >= t`` for every ``t`` of ``thresholds`` (face connectivity, like the
    pipeline's post-processing) and measure each component. ``hu`` (the CT on the same grid) is
    needed later by filters with a maximum mean density, ``zone_of_centroids`` by filters with
    zone limits. With ``growth`` (needs ``hu``) every component is also grown and its grown
    outline measured: such candidates are scored on the grown outlines, what the pipeline
    reports with that growth."""
    prob = np.asarray(probability, dtype=np.float32)
    ref = np.asarray(truth) > 0
    if prob.shape != ref.shape:
        raise ValueError(f"probability shape {prob.shape} differs from truth shape {ref.shape}")
    if hu is not None and np.shape(hu) != prob.shape:
        raise ValueError(f"CT shape {np.shape(hu)} differs from probability shape {prob.shape}")
    if growth is not None and hu is None:
        raise ValueError("outline growth needs the CT (hu)")
    voxel_mm3 = float(np.prod(spacing_xyz))
    t_lab, n_t = label_components(ref)
    t_size = np.bincount(t_lab.ravel(), minlength=n_t + 1)[1:]
    large = np.array([equivalent_diameter_mm(s * voxel_mm3) >= LARGE_LESION_MM for s in t_size], dtype=bool)
    measured = []
    for t in thresholds:
        p_lab, n_p = label_components(prob >= t)
        volume, peak, elongation = component_measures(p_lab, n_p, prob, spacing_xyz)
        mean_hu = component_means(p_lab, n_p, hu) if hu is not None else np.full(n_p, -np.inf)
        zone = zone_of_centroids(component_centroids(p_lab, n_p)) if zone_of_centroids is not None else None
        inter = _intersections(t_lab, n_t, p_lab, n_p, ref)
        grown = _grown_outlines(p_lab, n_p, hu, spacing_xyz, growth, t_lab, n_t, ref) if growth else None
        measured.append(ThresholdCandidates(volume, peak, elongation, mean_hu, zone, inter.sum(axis=0), inter > 0,
                                            grown))
    return CaseCandidates(tuple(float(t) for t in thresholds), tuple(measured), large, int(ref.sum()), voxel_mm3,
                          hu is not None, zone_of_centroids is not None, growth)


def _intersections(t_lab: np.ndarray, n_t: int, p_lab: np.ndarray, n_p: int, ref: np.ndarray) -> np.ndarray:
    """(n_t, n_p) voxels shared by truth lesion i and component j."""
    inter = np.zeros((n_t + 1, n_p + 1), dtype=np.int64)
    both = ref & (p_lab > 0)
    np.add.at(inter, (t_lab[both], p_lab[both]), 1)
    return inter[1:, 1:]


def _grown_outlines(p_lab: np.ndarray, n_p: int, hu: np.ndarray, spacing_xyz: Sequence[float], growth: OutlineGrowth,
                    t_lab: np.ndarray, n_t: int, ref: np.ndarray) -> GrownOutlines:
    """Components 1..n_p grown together, numbered largest first for the growth as the
    pipeline numbers them (ties in scan order), measured under their own numbers."""
    sizes = np.bincount(p_lab.ravel(), minlength=n_p + 1)[1:]
    by_size = np.argsort(-sizes, kind="stable")  # by_size[r] = component (0-based) of rank r
    rank_of = np.zeros(n_p + 1, dtype=np.int64)
    rank_of[by_size + 1] = np.arange(1, n_p + 1)
    grown_ranked = grow_label_array(rank_of[p_lab], np.asarray(hu), tuple(float(s) for s in spacing_xyz), growth)
    component_of = np.concatenate([[0], by_size + 1])
    grown = component_of[grown_ranked]
    volume = np.bincount(grown.ravel(), minlength=n_p + 1)[1:] * float(np.prod(spacing_xyz))
    inter = _intersections(t_lab, n_t, grown, n_p, ref)
    return GrownOutlines(volume.astype(np.float64), inter.sum(axis=0), inter > 0)


def curve_from_candidates(
    candidates: CaseCandidates, filters: Sequence[FilterLike], thresholds: Sequence[float] | None = None
) -> CaseCurve:
    """The case's Dice, false-positive lesions and detections for every (threshold, filter)
    pair, rows ``thresholds`` (default: every measured one), columns ``filters`` (a bare number
    is a minimum volume in mm³). A kept component is a true positive when it touches the truth
    (the benchmark's rule); Dice counts the kept components' voxels against the whole truth.
    Candidates measured with outline growth are scored on their grown outlines, and a filter
    with ``size_after_growth`` judges the grown volume (it needs such candidates)."""
    rules: list[LesionFilter] = as_filters(filters)
    if not candidates.has_ct and any(r.needs_ct for r in rules):
        raise ValueError("filters with a maximum mean density need the CT (hu)")
    if not candidates.has_zones and any(r.zone_limits for r in rules):
        raise ValueError("filters with zone limits need the zone of each component (zone_of_centroids)")
    if candidates.growth is None and any(r.size_after_growth for r in rules):
        raise ValueError("filters judging the size after growth need candidates measured with outline growth")
    rows = [candidates.index_of(t) for t in thresholds] if thresholds is not None else range(len(candidates.thresholds))
    shape = (len(rows), len(rules))
    dice, fp = np.zeros(shape), np.zeros(shape, dtype=np.int64)
    det, det_large = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
    for a, row in enumerate(rows):
        c = candidates.at_threshold[row]
        outline = c.grown if c.grown is not None else c  # what is reported and scored
        for b, rule in enumerate(rules):
            volume = c.grown.volume_mm3 if rule.size_after_growth else c.volume_mm3
            keep = np.asarray(rule.keeps(volume, c.peak, c.elongation, c.mean_hu, c.zone), dtype=bool)
            denominator = float(outline.volume_mm3[keep].sum() / candidates.voxel_mm3) + candidates.truth_voxels
            dice[a, b] = 2.0 * float(outline.overlap_voxels[keep].sum()) / denominator if denominator else 1.0
            fp[a, b] = int((keep & (outline.overlap_voxels == 0)).sum())
            found = outline.touches[:, keep].any(axis=1)
            det[a, b], det_large[a, b] = int(found.sum()), int((found & candidates.large).sum())
    return CaseCurve(dice, fp, det, det_large, candidates.n_truth, int(candidates.large.sum()))
