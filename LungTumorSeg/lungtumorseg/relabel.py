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
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import numpy as np
import SimpleITK as sitk

from .measure import Lesion, measure_lesions
from .postprocess import LesionFilter, label_lesions


@dataclass(frozen=True)
class MeasureContext:
    """What measuring a lesion needs besides the images: the lungs' superior–inferior
    extent (zone of a lesion) and the midline between the lungs (side of a lesion), both in
    LPS millimetres. A run's report carries them, so lesions can be re-measured later."""

    lung_z_lps_mm: Optional[tuple[float, float]] = None
    midline_x_lps_mm: Optional[float] = None

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> "MeasureContext":
        """From a run report (``lung_z_lps_mm``, ``midline_x_lps_mm``; absent = unknown)."""
        lung_z = report.get("lung_z_lps_mm")
        midline = report.get("midline_x_lps_mm")
        return cls(tuple(float(v) for v in lung_z) if lung_z else None,  # type: ignore[arg-type]
                   float(midline) if midline is not None else None)

    def to_dict(self) -> dict[str, Any]:
        return {"lung_z_lps_mm": list(self.lung_z_lps_mm) if self.lung_z_lps_mm else None,
                "midline_x_lps_mm": self.midline_x_lps_mm}


def lesions_from_probability(
    probability: sitk.Image, ct: sitk.Image, threshold: float, lesion_filter: LesionFilter,
    context: MeasureContext = MeasureContext(),
) -> tuple[sitk.Image, list[Lesion]]:
    """Lesion labels (1..N by decreasing volume, uint16) and their measurements.

    ``probability`` and ``ct`` (HU) must share one grid; neither is modified.
    """
    if probability.GetSize() != ct.GetSize() or not np.allclose(probability.GetSpacing(), ct.GetSpacing()) \
            or not np.allclose(probability.GetOrigin(), ct.GetOrigin(), atol=1e-3) \
            or not np.allclose(probability.GetDirection(), ct.GetDirection(), atol=1e-6):
        raise ValueError("the probability map and the CT image are not on the same voxel grid")
    labels = label_lesions(probability, threshold, lesion_filter.min_lesion_mm3,
                           min_peak_probability=lesion_filter.min_peak_probability,
                           max_elongation=lesion_filter.max_elongation)
    lesions = measure_lesions(labels, ct, probability, context.lung_z_lps_mm, context.midline_x_lps_mm)
    return labels, lesions


def probability_to_percent(probability: sitk.Image) -> sitk.Image:
    """The map in whole percent, rounded down (uint8 0..100, same grid); see the module doc."""
    values = sitk.GetArrayViewFromImage(probability).astype(np.float64)
    percent = np.floor(np.clip(values, 0.0, 1.0) * 100.0 + 1e-9).astype(np.uint8)
    out = sitk.GetImageFromArray(percent)
    out.CopyInformation(probability)
    return out


def probability_from_percent(percent: sitk.Image) -> sitk.Image:
    """A percent map back as probabilities (float64: ``k / 100`` equals the threshold ``k / 100``
    exactly, which float32 would not guarantee)."""
    values = sitk.GetArrayViewFromImage(percent).astype(np.float64)
    if values.size and (values.min() < 0 or values.max() > 100):
        raise ValueError("a percent probability map must hold values between 0 and 100")
    out = sitk.GetImageFromArray(values / 100.0)
    out.CopyInformation(percent)
    return out


def is_whole_percent(value: float) -> bool:
    """Whether ``value`` (a threshold or peak limit) lies on the 1 % grid of a percent map."""
    return math.isclose(value * 100.0, round(value * 100.0), abs_tol=1e-9)
