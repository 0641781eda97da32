"""Probability map → lesion label image: threshold, drop implausible components, label by size.

A connected component of the thresholded map is kept as a lesion only when it is

* at least ``min_lesion_mm3`` in volume (noise specks),
* confident somewhere: its highest probability reaches ``min_peak_probability``
  (hysteresis thresholding — the outline follows the lower threshold, the decision to
  keep a lesion the higher one), and
* not tube-shaped: its **elongation**, the square root of the ratio of the largest to the
  smallest principal variance of the component's volume, is at most ``max_elongation``.
  A sphere scores 1, a 3:1 ellipsoid 3; a vessel segment or a sliver along the pleura or
  the mediastinum scores far higher. Each voxel counts as its whole box (the voxel's own
  variance ``spacing²/12`` per axis is added), so a lesion seen on a single thick slice is
  not mistaken for a flat sheet, and
* of tumour density: its **mean CT density** is at most ``max_mean_hu``. Bone, calcified
  structures and contrast-filled vessels are far denser than lung cancer, which measures
  about 20-60 HU before and rarely above ~100 HU after contrast (malignant nodules enhance
  by 15-60 HU: Swensen et al., "Lung nodule enhancement at CT: multicenter study",
  Radiology 214:73-80, 2000).

The limits are model-card parameters chosen on cases the network was not trained on
(``scripts/calibrate_threshold.py``); users can override them.

**Zone limits.** Each zone has its own network, and the networks are not equally reliable:
the middle (hilar) zone, where vessels and bronchi branch, gives more false findings than
the others. A card may therefore carry ``zone_limits``: extra limits that a lesion whose
centroid lies in that zone must *also* pass (the stricter of the two applies), e.g. a larger
minimum volume in the middle zone. A user's override of a limit changes the limit everywhere
and the zone limits stay on top of it; they can be switched off as a whole
(``lungtumorseg predict --no-zone-limits``, the Slicer module's "Zone limits" check box).

**Outline growth.** A card may also carry ``outline_growth`` (:mod:`lungtumorseg.outline`):
once the limits above have decided which lesions exist, each kept lesion's outline grows a
few millimetres into voxels of tumour-edge density, because the networks find a tumour's
core but stop short of its partial-volume rim and ground-glass halo. It changes outlines
and volumes, never which lesions are reported (``--no-outline-growth`` switches it off).

**Size on the grown outline.** A card with outline growth may also say
``size_after_growth: true``: then every component grows first and the minimum volumes
(general and per zone) judge the grown outline, the size the user is shown, while peak,
elongation and density still judge the thresholded component. A tumour the network
under-segments keeps the size of its grown outline; a speck with no tumour-density tissue
around it stays small. With growth switched off the size is judged on the outline as
reported, the thresholded one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from .outline import OutlineGrowth, grow_label_array, grow_outlines, relabel_by_size
from .zones import ZONE_NAMES, zone_of_position


@dataclass(frozen=True)
class LesionFilter:
    """Which connected components of the thresholded probability count as lesions."""

    min_lesion_mm3: float = 0.0
    min_peak_probability: float = 0.0
    max_elongation: float = math.inf
    max_mean_hu: float = math.inf
    #: (zone name, extra limits) pairs, in :data:`ZONE_NAMES` order; see the module doc.
    zone_limits: tuple[tuple[str, "LesionFilter"], ...] = ()
    #: growth of the kept lesions' outlines (None: the thresholded outline); see the module doc.
    outline_growth: OutlineGrowth | None = None
    #: judge the minimum volumes on the grown outline (with outline growth); see the module doc.
    size_after_growth: bool = False

    def __post_init__(self) -> None:
        if not self.min_lesion_mm3 >= 0.0:
            raise ValueError(f"minimum lesion volume must be >= 0 mm3, got {self.min_lesion_mm3}")
        if not 0.0 <= self.min_peak_probability <= 1.0:
            raise ValueError(f"minimum peak probability must be between 0 and 1, got {self.min_peak_probability}")
        if not self.max_elongation >= 1.0:
            raise ValueError(f"maximum elongation must be >= 1 (a sphere is 1), got {self.max_elongation}")
        if math.isnan(self.max_mean_hu) or self.max_mean_hu < -1000.0:
            raise ValueError(f"maximum mean density must be a CT value of at least -1000 HU, got {self.max_mean_hu}")
        names = [name for name, _ in self.zone_limits]
        unknown = sorted(set(names) - set(ZONE_NAMES))
        if unknown:
            raise ValueError(f"zone limits for unknown zone(s) {unknown}; zones are {list(ZONE_NAMES)}")
        if len(set(names)) != len(names):
            raise ValueError(f"a zone has more than one set of zone limits: {names}")
        if any(limit.zone_limits for _, limit in self.zone_limits):
            raise ValueError("zone limits cannot themselves have zone limits")
        if any(limit.outline_growth or limit.size_after_growth for _, limit in self.zone_limits):
            raise ValueError("outline growth applies to all lesions; zone limits cannot carry it")

    def keeps(self, volume_mm3, peak_probability, elongation, mean_hu=-math.inf, zone=None):
        """Whether components with these measurements are lesions (numbers or numpy arrays).

        ``zone`` is the zone name of each component (a string or an array of strings); the
        zone limits apply only where it is given, so ``None`` (zone unknown) checks the
        general limits alone.
        """
        kept = ((volume_mm3 >= self.min_lesion_mm3) & (peak_probability >= self.min_peak_probability)
                & (elongation <= self.max_elongation) & (mean_hu <= self.max_mean_hu))
        if zone is None:
            return kept
        for name, limit in self.zone_limits:
            kept = kept & ((np.asarray(zone) != name) | limit.keeps(volume_mm3, peak_probability, elongation, mean_hu))
        return kept

    def with_zone_limit(self, zone: str, limit: "LesionFilter") -> "LesionFilter":
        """This filter with ``limit`` as the extra limits of ``zone`` (replacing any it had)."""
        others = {name: lim for name, lim in self.zone_limits if name != zone}
        others[zone] = limit
        return replace(self, zone_limits=tuple((name, others[name]) for name in ZONE_NAMES if name in others))

    def overridden(self, *, min_lesion_mm3: float | None = None, min_peak_probability: float | None = None,
                   max_elongation: float | None = None, max_mean_hu: float | None = None,
                   zone_limits: bool = True, outline_growth: bool = True) -> "LesionFilter":
        """A user's overrides: each general limit given (not ``None``) replaces this one's,
        the zone limits stay on top unless ``zone_limits`` is False (``--no-zone-limits``),
        the outline growth stays unless ``outline_growth`` is False (``--no-outline-growth``)."""
        given = {"min_lesion_mm3": min_lesion_mm3, "min_peak_probability": min_peak_probability,
                 "max_elongation": max_elongation, "max_mean_hu": max_mean_hu}
        out = replace(self, **{k: float(v) for k, v in given.items() if v is not None})
        if not zone_limits:
            out = replace(out, zone_limits=())
        return out if outline_growth else replace(out, outline_growth=None)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "LesionFilter":
        """From a card's ``postprocessing`` (absent limit = none; ``null`` = no limit)."""
        def limit(key: str) -> float:
            value = values.get(key)
            return math.inf if value is None else float(value)

        zones = values.get("zone_limits") or {}
        if not isinstance(zones, Mapping):
            raise ValueError(f"zone_limits must map zone names to limits, got {zones!r}")
        def anatomical(name: str) -> int:  # unknown names last (refused by __post_init__)
            return ZONE_NAMES.index(name) if name in ZONE_NAMES else len(ZONE_NAMES)

        growth = values.get("outline_growth")
        if growth is not None and not isinstance(growth, Mapping):
            raise ValueError(f"outline_growth must be an object with min_hu, max_hu, max_distance_mm, got {growth!r}")
        after_growth = values.get("size_after_growth", False)
        if not isinstance(after_growth, bool):
            raise ValueError(f"size_after_growth must be true or false, got {after_growth!r}")
        return cls(float(values.get("min_lesion_mm3", 0.0)), float(values.get("min_peak_probability", 0.0)),
                   limit("max_elongation"), limit("max_mean_hu"),
                   tuple((name, cls.from_dict(zones[name])) for name in sorted(zones, key=anatomical)),
                   OutlineGrowth.from_dict(growth) if growth is not None else None, after_growth)

    def to_dict(self) -> dict[str, Any]:
        """The card/report form: JSON has no infinity, so "no limit" is ``None``; ``zone_limits``,
        ``outline_growth`` and ``size_after_growth`` appear only when set."""
        out: dict[str, Any] = {
            "min_lesion_mm3": self.min_lesion_mm3, "min_peak_probability": self.min_peak_probability,
            "max_elongation": self.max_elongation if math.isfinite(self.max_elongation) else None,
            "max_mean_hu": self.max_mean_hu if math.isfinite(self.max_mean_hu) else None}
        if self.zone_limits:
            out["zone_limits"] = {name: limit.to_dict() for name, limit in self.zone_limits}
        if self.outline_growth is not None:
            out["outline_growth"] = self.outline_growth.to_dict()
        if self.size_after_growth:
            out["size_after_growth"] = True
        return out

    @property
    def needs_measures(self) -> bool:
        """Whether a limit beyond the minimum volume is set (components must be measured)."""
        return (self.min_peak_probability > 0.0 or math.isfinite(self.max_elongation)
                or math.isfinite(self.max_mean_hu) or bool(self.zone_limits))

    @property
    def needs_ct(self) -> bool:
        """Whether a density limit (general or in a zone) or outline growth needs the CT."""
        return (math.isfinite(self.max_mean_hu) or self.outline_growth is not None
                or any(lim.needs_ct for _, lim in self.zone_limits))


def elongation_from_covariance(covariance: np.ndarray) -> float | np.ndarray:
    """√(largest / smallest eigenvalue) of a 3×3 positional covariance (mm²); a stack of
    covariances (..., 3, 3) gives one value each."""
    eigenvalues = np.linalg.eigvalsh(np.asarray(covariance, dtype=np.float64))
    ratio = np.sqrt(np.maximum(eigenvalues[..., -1], 0.0) / np.maximum(eigenvalues[..., 0], 1e-12))
    return float(ratio) if ratio.ndim == 0 else ratio


def voxel_box_covariance(spacing_xyz: tuple[float, ...], direction: tuple[float, ...]) -> np.ndarray:
    """Positional covariance of one voxel's box (uniform over the box), in physical axes."""
    d = np.reshape(np.asarray(direction, dtype=np.float64), (3, 3))
    return d @ np.diag(np.square(np.asarray(spacing_xyz, dtype=np.float64)) / 12.0) @ d.T


def label_elongation(shape: sitk.LabelShapeStatisticsImageFilter, label: int, box_covariance: np.ndarray) -> float:
    """Elongation of one label of an executed ``LabelShapeStatisticsImageFilter`` (physical
    principal moments and axes) with each voxel counted as its box (``voxel_box_covariance``)."""
    axes = np.reshape(shape.GetPrincipalAxes(label), (3, 3))  # rows: unit principal axes
    covariance = axes.T @ np.diag(shape.GetPrincipalMoments(label)) @ axes + box_covariance
    return float(elongation_from_covariance(covariance))


def restrict_to_lung_region(
    probability: np.ndarray, lung_mask: np.ndarray, spacing_mm: tuple[float, float, float], margin_mm: float
) -> np.ndarray:
    """Zero the probability farther than ``margin_mm`` from the lungs (canonical grid).

    Tumours are inside the lungs or abut them (juxtapleural, hilar); responses deep in the
    liver, heart or chest wall are false positives. Only the lungs' bounding box grown by the
    margin can be within reach, so the distance map is computed there alone: it holds every
    lung voxel, so its distances are those of the whole grid, at a fraction of the cost (the
    distance map of a whole magnified grid was a tenth of a run). Without lungs nothing is kept.
    """
    out = np.zeros_like(probability)
    sampling = (spacing_mm[2], spacing_mm[1], spacing_mm[0])  # (z, y, x) mm
    reach = []
    for axis, (step, size) in enumerate(zip(sampling, lung_mask.shape)):
        present = np.nonzero(lung_mask.any(axis=tuple(a for a in range(3) if a != axis)))[0]
        if present.size == 0:
            return out
        pad = int(math.ceil(margin_mm / step)) + 1
        reach.append(slice(max(int(present[0]) - pad, 0), min(int(present[-1]) + 1 + pad, size)))
    box = tuple(reach)
    distance = ndi.distance_transform_edt(~lung_mask[box], sampling=sampling)
    kept = probability[box].copy()
    kept[distance > margin_mm] = 0.0
    out[box] = kept
    return out


def _implausible(labels: sitk.Image, probability: sitk.Image, rule: LesionFilter,
                 ct: sitk.Image | None, lung_z_lps_mm: tuple[float, float] | None,
                 volumes_mm3: np.ndarray | None = None) -> dict[int, int]:
    """Label → 0 for every component the limits reject (a component's zone is that of its
    centroid; unknown without the lungs' extent). ``volumes_mm3[label - 1]``, when given, is
    the volume the size limits judge (the grown outline's) instead of the component's own."""
    shape = sitk.LabelShapeStatisticsImageFilter()
    shape.Execute(labels)
    peaks = sitk.LabelStatisticsImageFilter()
    peaks.SetUseHistograms(False)  # mean/min/max/sigma only: histograms cost most of the time
    peaks.Execute(probability, labels)
    density = None
    if rule.needs_ct:
        density = sitk.LabelStatisticsImageFilter()
        density.SetUseHistograms(False)  # mean/min/max/sigma only: histograms cost most of the time
        density.Execute(sitk.Cast(ct, sitk.sitkFloat32), labels)
    box = voxel_box_covariance(labels.GetSpacing(), labels.GetDirection())
    drop: dict[int, int] = {}
    for label in shape.GetLabels():
        mean_hu = density.GetMean(label) if density is not None else -math.inf
        zone = (zone_of_position(shape.GetCentroid(label)[2], lung_z_lps_mm)
                if rule.zone_limits and lung_z_lps_mm else None)
        volume = shape.GetPhysicalSize(label) if volumes_mm3 is None else float(volumes_mm3[label - 1])
        if not rule.keeps(volume, peaks.GetMaximum(label), label_elongation(shape, label, box), mean_hu, zone):
            drop[int(label)] = 0
    return drop


#: A second look at the kept candidates: labels image (1..N) -> the labels that are not lesions.
CandidateJudge = Callable[[sitk.Image], "set[int]"]


def label_lesions(
    probability: sitk.Image, threshold: float, rule: LesionFilter = LesionFilter(), *,
    ct: sitk.Image | None = None, lung_z_lps_mm: tuple[float, float] | None = None,
    judge: CandidateJudge | None = None,
) -> sitk.Image:
    """Connected lesions as labels 1..N by decreasing volume (uint16, same grid).

    Components of ``probability >= threshold`` that ``rule`` rejects are removed (see the
    module docstring): below the minimum volume, never reaching the minimum peak
    probability, too elongated, or denser on average than the maximum density in ``ct``
    (the CT on the same grid, needed only for a density limit). Zone limits need the lungs'
    superior–inferior extent ``lung_z_lps_mm`` (LPS mm) to place each component in a zone;
    without it they are not applied. Face connectivity (6-neighbour) keeps two lesions
    touching only at a corner apart. ``judge`` (e.g. a package's candidate classifier,
    :mod:`lungtumorseg.candidate_check`) then removes the kept components it rejects. The
    rule's outline growth, if any, finally grows the kept lesions' outlines in ``ct``
    (:func:`lungtumorseg.outline.grow_outlines`).
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    if rule.needs_ct and ct is None:
        raise ValueError("a maximum mean density or outline growth needs the CT image")
    binary = sitk.BinaryThreshold(probability, lowerThreshold=float(threshold), upperThreshold=1e9, insideValue=1, outsideValue=0)
    components = sitk.ConnectedComponent(binary, False)
    if rule.size_after_growth and rule.outline_growth is not None:
        if judge is not None:
            raise ValueError("a candidate judge cannot be combined with size limits on the grown outline")
        return _label_judged_grown(relabel_by_size(components, 0), probability, rule, ct, lung_z_lps_mm)
    voxel_mm3 = float(np.prod(probability.GetSpacing()))
    min_voxels = max(int(math.ceil(rule.min_lesion_mm3 / voxel_mm3)), 1) if rule.min_lesion_mm3 > 0 else 0
    labels = relabel_by_size(components, min_voxels)
    if rule.needs_measures and sitk.GetArrayViewFromImage(labels).any():
        drop = _implausible(labels, probability, rule, ct, lung_z_lps_mm)
        if drop:
            labels = relabel_by_size(sitk.ChangeLabel(labels, changeMap=drop), 0)
    if judge is not None and sitk.GetArrayViewFromImage(labels).any():
        rejected = judge(labels)
        if rejected:
            labels = relabel_by_size(sitk.ChangeLabel(labels, changeMap={int(v): 0 for v in rejected}), 0)
    if rule.outline_growth is not None:
        return grow_outlines(labels, ct, rule.outline_growth)
    return sitk.Cast(labels, sitk.sitkUInt16)


def _label_judged_grown(labels: sitk.Image, probability: sitk.Image, rule: LesionFilter, ct: sitk.Image,
                        lung_z_lps_mm: tuple[float, float] | None) -> sitk.Image:
    """``label_lesions`` when the size limits judge the grown outline: every component (1..N,
    largest first) grows, the size limits judge the grown volumes, the other limits the
    thresholded components, and the kept lesions keep their grown outlines."""
    lab = sitk.GetArrayViewFromImage(labels)
    if not lab.any():
        return sitk.Cast(labels, sitk.sitkUInt16)
    grown = grow_label_array(lab, sitk.GetArrayViewFromImage(ct), labels.GetSpacing(), rule.outline_growth)
    n = int(lab.max())
    volumes = np.bincount(grown.ravel(), minlength=n + 1)[1:] * float(np.prod(labels.GetSpacing()))
    drop = _implausible(labels, probability, rule, ct, lung_z_lps_mm, volumes)
    grown[np.isin(grown, list(drop))] = 0
    image = sitk.GetImageFromArray(grown.astype(np.uint32))
    image.CopyInformation(labels)
    return sitk.Cast(relabel_by_size(image), sitk.sitkUInt16)
