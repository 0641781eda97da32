"""Lesions from a tumour probability map: threshold, filter, label, measure — no network.

Why a module of its own: the network is the slow part of a run, while the operating point
(probability threshold, minimum volume, minimum peak probability, maximum elongation) is a
reader's choice. A run keeps its probability map, so the lesions can be recomputed for
another operating point in about a second — the pipeline and the Slicer module's "update
lesions" use this same function, which is what makes the two agree. It needs no torch.

A kept map may be stored in **whole percent** (one byte per voxel instead of four):
:func:`probability_to_percent` rounds *down*, so ``percent >= 100 t`` holds exactly when
``p >= t`` for every threshold ``t`` that is itself a whole percent (0.10, 0.35, …): the
threshold and the peak-probability test select the same voxels and the same components as
on the full-precision map. Mean probabilities measured on a percent map are at most 0.01
lower than on the original.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional

import numpy as np
import SimpleITK as sitk

from .candidate_check import CandidateCheck, JudgedCandidates
from .io import same_grid
from .magnify import ConfirmedPoint, components_reaching, confirmed_check, join_touching, labels_holding
from .measure import MAGNIFIED, Lesion, measure_lesions
from .postprocess import LesionFilter, label_lesions


#: The report field of the magnified look's confirmed candidates ([x, y, z, score] each).
CONFIRMED_KEY = "confirmed_by_magnified_look"
#: The ``postprocessing`` field of a report whose lesions took in the magnified look's touching
#: components (:func:`lungtumorseg.magnify.join_touching`): a re-labelling needs that map too.
MAGNIFIED_JOIN_KEY = "magnified_join"


@dataclass(frozen=True)
class MeasureContext:
    """What measuring a lesion needs besides the images: the lungs' superior–inferior
    extent (zone of a lesion) and the midline between the lungs (side of a lesion), both in
    LPS millimetres, and the candidates the magnified look confirmed (a point inside each, LPS
    mm, and its score; :mod:`lungtumorseg.magnify`), which the candidate classifier keeps. A
    run's report carries them, so lesions can be re-measured later."""

    lung_z_lps_mm: Optional[tuple[float, float]] = None
    midline_x_lps_mm: Optional[float] = None
    confirmed_lps: tuple[ConfirmedPoint, ...] = ()

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> "MeasureContext":
        """From a run report (``lung_z_lps_mm``, ``midline_x_lps_mm``; absent = unknown)."""
        lung_z = report.get("lung_z_lps_mm")
        midline = report.get("midline_x_lps_mm")
        confirmed = report.get(CONFIRMED_KEY) or []
        return cls(tuple(float(v) for v in lung_z) if lung_z else None,  # type: ignore[arg-type]
                   float(midline) if midline is not None else None,
                   tuple(tuple(float(v) for v in point) for point in confirmed))  # type: ignore[misc]

    def to_dict(self) -> dict[str, Any]:
        return {"lung_z_lps_mm": list(self.lung_z_lps_mm) if self.lung_z_lps_mm else None,
                "midline_x_lps_mm": self.midline_x_lps_mm,
                CONFIRMED_KEY: [list(point) for point in self.confirmed_lps]}


def _box(mask: np.ndarray) -> tuple[list[int], list[int]] | None:
    """(index, size) in SimpleITK (x, y, z) order of the box around ``mask`` (z, y, x); None if empty."""
    if not mask.any():
        return None
    lo, hi = [], []
    for axis in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        lo.append(int(hit[0]))
        hi.append(int(hit[-1]) + 1)
    return lo[::-1], [h - l for l, h in zip(lo, hi)][::-1]


def _grown_box(index: list[int], size: list[int], lesion_filter: LesionFilter,
               image: sitk.Image) -> tuple[list[int], list[int]]:
    """The box padded by the reach of the filter's outline growth (clipped to the image),
    so grown outlines are never cut by the box."""
    if lesion_filter.outline_growth is None:
        return index, size
    pad = lesion_filter.outline_growth.reach_voxels(image.GetSpacing())
    lo = [max(i - p, 0) for i, p in zip(index, pad)]
    hi = [min(i + n + p, dim) for i, n, p, dim in zip(index, size, pad, image.GetSize())]
    return lo, [h - l for l, h in zip(lo, hi)]


def _lesions_in_box(map_image: sitk.Image, ct: sitk.Image, at_or_above: np.ndarray, to_probability,
                    threshold: float, lesion_filter: LesionFilter,
                    context: MeasureContext, check: CandidateCheck | None,
                    magnified_at_or_above: np.ndarray | None = None) -> tuple[sitk.Image, list[Lesion]]:
    """Label and measure only inside the box of ``at_or_above`` (the voxels reaching the
    threshold), then place the labels on the full grid.

    Every voxel outside the box is below the threshold, so components, their order (raster
    order is kept by a crop) and their measurements are those of the whole image — at the
    cost of the lungs' box instead of the whole scan (padded by the outline growth's reach). ``to_probability`` turns the cropped
    map into probabilities (identity for a probability map). A candidate ``check`` looks at
    the whole CT and map around each candidate, not only at the box. ``magnified_at_or_above``
    (the magnified look's map at the threshold, same grid): the final lesions take in its
    components touching them (:func:`lungtumorseg.magnify.join_touching`); the box then also
    covers the magnified components that reach it (not the stray ones elsewhere in the lungs).
    Candidate scores and "found by" are read on the lesions as judged, before the join.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    if not same_grid(map_image, ct):
        raise ValueError("the probability map and the CT image are not on the same voxel grid")
    full = sitk.Image(ct.GetSize(), sitk.sitkUInt16)
    full.CopyInformation(ct)
    if magnified_at_or_above is not None and magnified_at_or_above.shape != at_or_above.shape:
        raise ValueError("the magnified map and the CT image are not on the same voxel grid")
    box = _box(at_or_above)
    if box is None:
        return full, []
    index, size = _grown_box(*box, lesion_filter, ct)
    near = None  # the magnified components that can touch a lesion (those reaching the box)
    if magnified_at_or_above is not None:
        near = components_reaching(magnified_at_or_above, index, size)
        if near.any():
            index, size = _grown_box(*_box(at_or_above | near), lesion_filter, ct)
    probability = to_probability(sitk.RegionOfInterest(map_image, size, index))
    crop_ct = sitk.RegionOfInterest(ct, size, index)
    check = confirmed_check(check, context.confirmed_lps)
    judged = None if check is None else JudgedCandidates(check, ct, map_image, to_probability)
    judged_labels = label_lesions(probability, threshold, lesion_filter, ct=crop_ct,
                                  lung_z_lps_mm=context.lung_z_lps_mm, judge=None if judged is None else judged.judge)
    labels, final_of, joined_voxels = judged_labels, None, None
    if near is not None:
        crop = tuple(slice(i, i + n) for i, n in zip(index[::-1], size[::-1]))
        labels = join_touching(judged_labels, near[crop])
        before, after = sitk.GetArrayViewFromImage(judged_labels), sitk.GetArrayViewFromImage(labels)
        # the join renumbers by the new volumes: each judged lesion's final number, read at one of its voxels
        final_of = {int(old): int(after[tuple(np.argwhere(before == old)[0])]) for old in np.unique(before) if old}
        joined_voxels = np.bincount(after[(after > 0) & (before == 0)].astype(np.int64), minlength=int(after.max()) + 1)

    def final(by_judged_label: dict) -> dict:
        """A per-lesion value found on the judged labels, keyed by the final labels."""
        return by_judged_label if final_of is None else {final_of[k]: v for k, v in by_judged_label.items()}

    lesions = measure_lesions(labels, crop_ct, probability, context.lung_z_lps_mm, context.midline_x_lps_mm)
    if judged is not None:
        scores = final(judged.lesion_scores(judged_labels))
        lesions = [replace(lesion, candidate_score=scores.get(lesion.label)) for lesion in lesions]
    if joined_voxels is not None:
        voxel_ml = float(np.prod(ct.GetSpacing())) / 1000.0
        lesions = [replace(lesion, joined_ml=round(float(joined_voxels[lesion.label]) * voxel_ml, 4))
                   for lesion in lesions]
    if context.confirmed_lps:  # on the judged labels: a point the join took in does not make a lesion "found by"
        looked = final(labels_holding(judged_labels, context.confirmed_lps))
        lesions = [replace(lesion, found_by=MAGNIFIED) if lesion.label in looked else lesion for lesion in lesions]
    return sitk.Paste(full, labels, size, [0, 0, 0], index), lesions


def _magnified_above(magnified: sitk.Image | None, ct: sitk.Image, level: float) -> np.ndarray | None:
    """The magnified look's map at or above ``level`` (None without a map); refuses another grid."""
    if magnified is None:
        return None
    if not same_grid(magnified, ct):
        raise ValueError("the magnified look's map and the CT image are not on the same voxel grid")
    return sitk.GetArrayViewFromImage(magnified) >= level


def lesions_from_probability(
    probability: sitk.Image, ct: sitk.Image, threshold: float, lesion_filter: LesionFilter,
    context: MeasureContext = MeasureContext(), check: CandidateCheck | None = None,
    magnified: sitk.Image | None = None,
) -> tuple[sitk.Image, list[Lesion]]:
    """Lesion labels (1..N by decreasing volume, uint16, on the CT's grid) and their measurements.

    ``probability`` and ``ct`` (HU) must share one grid; neither is modified. ``check``: a
    model package's candidate classifier, which removes the candidates it rejects.
    ``magnified``: the magnified look's map (same grid) when the card's look joins its touching
    components to the final lesions (:func:`lungtumorseg.magnify.join_touching`).
    """
    return _lesions_in_box(probability, ct, sitk.GetArrayViewFromImage(probability) >= threshold,
                           lambda crop: crop, threshold, lesion_filter, context, check,
                           _magnified_above(magnified, ct, threshold))


def lesions_from_percent(
    percent: sitk.Image, ct: sitk.Image, threshold: float, lesion_filter: LesionFilter,
    context: MeasureContext = MeasureContext(), check: CandidateCheck | None = None,
    magnified_percent: sitk.Image | None = None,
) -> tuple[sitk.Image, list[Lesion]]:
    """:func:`lesions_from_probability` for maps in whole percent (see the module doc);
    only the box of voxels at or above the threshold is converted to probabilities (the
    part of the map a candidate ``check`` looks at around the candidates)."""
    level = math.ceil(100.0 * threshold - 1e-9)
    at_or_above = sitk.GetArrayViewFromImage(percent) >= level
    return _lesions_in_box(percent, ct, at_or_above, probability_from_percent, threshold, lesion_filter, context,
                           check, _magnified_above(magnified_percent, ct, level))


def relabel_report(lesions: list[Lesion], threshold: float, lesion_filter: LesionFilter, context: MeasureContext,
                   model: Any, source: str, check: CandidateCheck | None = None, magnified_join: bool = False,
                   **extra: Any) -> dict[str, Any]:
    """The report of lesions recomputed from a map: the fields of a ``predict`` report that
    still apply, plus ``source`` (where the map came from). ``magnified_join``: the lesions took
    in the magnified look's touching components."""
    n = len(lesions)
    judged = ({} if check is None else {"candidate_check_cutoff": check.cutoff}) | (
        {MAGNIFIED_JOIN_KEY: True} if magnified_join else {})
    return {"status": "ok", "message": f"{n} lesion{'s' if n != 1 else ''} from the probability map "
                                       "(no new inference)",
            **extra, "model": model, "threshold": threshold,
            "postprocessing": {"threshold": threshold, **lesion_filter.to_dict(), **judged}, **context.to_dict(),
            "source": source, "lesions": [lesion.to_dict() for lesion in lesions]}


def probability_to_percent(probability: sitk.Image) -> sitk.Image:
    """The map in whole percent, rounded down (uint8 0..100, same grid); see the module doc."""
    values = sitk.GetArrayViewFromImage(probability).astype(np.float64)
    percent = np.floor(np.clip(values, 0.0, 1.0) * 100.0 + 1e-9).astype(np.uint8)
    out = sitk.GetImageFromArray(percent)
    out.CopyInformation(probability)
    return out


# PERCENT_TO_PROBABILITY[k]: the smallest float32 that is not below k / 100, so that a
# float32 map compares with a threshold k / 100 (a double) exactly as k compares with k.
_NEAREST = (np.arange(101) / 100.0).astype(np.float32)
PERCENT_TO_PROBABILITY = np.where(_NEAREST.astype(np.float64) < np.arange(101) / 100.0,
                                  np.nextafter(_NEAREST, np.float32(2.0)), _NEAREST).astype(np.float32)


def probability_from_percent(percent: sitk.Image) -> sitk.Image:
    """A percent map back as float32 probabilities (``k`` becomes the smallest float32 not
    below ``k / 100``, so ``p >= k / 100`` holds exactly when the percent is at least ``k``)."""
    values = sitk.GetArrayViewFromImage(percent)
    if values.size and (values.min() < 0 or values.max() > 100):
        raise ValueError("a percent probability map must hold values between 0 and 100")
    out = sitk.GetImageFromArray(PERCENT_TO_PROBABILITY[values.astype(np.intp)])
    out.CopyInformation(percent)
    return out

