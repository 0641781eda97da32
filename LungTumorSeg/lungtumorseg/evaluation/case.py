"""Evaluate one prediction against its truth (pure: arrays in, plain dict out, no network).

:func:`evaluate_prediction` is the single entry point used by the data-set runner and by
tests; :func:`case_row`, :func:`zone_rows` and :func:`lesion_rows` flatten its result into
the rows of ``metrics_cases.csv``, ``metrics_zones.csv`` and ``lesions.csv``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from ..zones import ZONE_NAMES, zone_of_position
from .geometry import Grid
from .lesions import DetectionResult, LesionRecord, detect_lesions, label_components, sensitivity_by_size
from .metrics import axial_axis, voxel_metrics
from .zones import zone_voxel_metrics


def _detection_counts(truth: list[LesionRecord], predicted: list[LesionRecord]) -> dict[str, float]:
    n_t, n_d = len(truth), sum(r.matched for r in truth)
    return {
        "n_truth_lesions": n_t,
        "n_detected": n_d,
        "n_pred_lesions": len(predicted),
        "n_false_positive": sum(not r.matched for r in predicted),
        "lesion_sensitivity": n_d / n_t if n_t else float("nan"),
    }


def _place_lesions(detection: DetectionResult, grid: Grid, lung_z_mm: Optional[tuple[float, float]]) -> None:
    """Fill each lesion's LPS centroid and zone (centroid rule) in place."""
    for record in detection.truth + detection.predicted:
        lps = grid.kji_to_lps(np.asarray(record.centroid_kji))[0]
        record.centroid_lps_mm = [float(v) for v in lps]
        record.zone = zone_of_position(float(lps[2]), lung_z_mm) if lung_z_mm else "unknown"


def evaluate_prediction(
    pred_labels: np.ndarray,
    prob: Optional[np.ndarray],
    truth: np.ndarray,
    spacing: Sequence[float],
    *,
    origin: Optional[Sequence[float]] = None,
    direction: Optional[Sequence[float]] = None,
    lung_z_mm: Optional[tuple[float, float]] = None,
    min_iou: float = 0.0,
    case: str = "case",
) -> dict[str, Any]:
    """All metrics of one case.

    Args:
        pred_labels: predicted lesion labels or binary mask, ``(k, j, i)`` array; > 0 = tumour.
        prob: tumour probability map of the same shape, or None (then ``rmse_probability`` is nan).
        truth: reference mask (> 0 = tumour), same shape.
        spacing: voxel size in mm in SimpleITK ``(i, j, k)`` order (``image.GetSpacing()``).
        origin, direction: SimpleITK geometry (defaults: zero, identity), for lesion positions,
            zones and which array axis is axial.
        lung_z_mm: the lungs' (inferior, superior) LPS z extent; enables per-zone results.
        min_iou: detection rule, see :mod:`lungtumorseg.evaluation.lesions`.
        case: name stored in the result.

    Returns a dict with ``case``, ``voxel`` (metrics), ``detection`` (counts and ``by_size``),
    ``zones`` (``{zone: metrics + detection counts}``, empty without ``lung_z_mm``),
    ``lesions`` (records), ``slice_axis`` and ``lung_z_mm``.
    """
    pred = np.asarray(pred_labels) > 0
    ref = np.asarray(truth) > 0
    if pred.shape != ref.shape:
        raise ValueError(f"{case}: prediction shape {pred.shape} differs from truth shape {ref.shape}")
    grid = Grid.of(spacing, origin, direction)
    slice_axis = axial_axis(grid.direction)
    voxel = voxel_metrics(pred, ref, grid.spacing_xyz, prob, slice_axis)
    detection = detect_lesions(pred, ref, grid.spacing_xyz, min_iou, label_components(pred), prob)
    _place_lesions(detection, grid, lung_z_mm)
    zones: dict[str, dict[str, float]] = {}
    if lung_z_mm is not None:
        zones = zone_voxel_metrics(pred, ref, grid, lung_z_mm, prob, slice_axis)
        for name in ZONE_NAMES:
            zones[name].update(_detection_counts(
                [r for r in detection.truth if r.zone == name],
                [r for r in detection.predicted if r.zone == name],
            ))
    return {
        "case": case,
        "voxel": voxel,
        "detection": {**_detection_counts(detection.truth, detection.predicted),
                      "by_size": sensitivity_by_size(detection.truth)},
        "zones": zones,
        "lesions": [r.to_dict() for r in detection.truth + detection.predicted],
        "slice_axis": slice_axis,
        "lung_z_mm": list(lung_z_mm) if lung_z_mm is not None else None,
        "min_iou": float(min_iou),
    }


def case_row(evaluation: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One ``metrics_cases.csv`` row (``extra`` adds status, timing, extent source...)."""
    row: dict[str, Any] = {"case": evaluation["case"], **evaluation["voxel"]}
    row.update({k: v for k, v in evaluation["detection"].items() if k != "by_size"})
    lz = evaluation.get("lung_z_mm")
    if lz:
        row["lung_z_lo_mm"], row["lung_z_hi_mm"] = lz
    row.update(extra)
    return row


def zone_rows(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``metrics_zones.csv`` rows of one case (none without a lung extent)."""
    return [{"case": evaluation["case"], "zone": name, **metrics} for name, metrics in evaluation["zones"].items()]


def lesion_rows(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``lesions.csv`` rows of one case: every truth and predicted lesion."""
    rows = []
    for record in evaluation["lesions"]:
        row = {"case": evaluation["case"], **{k: v for k, v in record.items() if k not in ("centroid_kji", "centroid_lps_mm")}}
        lps = record.get("centroid_lps_mm") or [float("nan")] * 3
        row["centroid_l_mm"], row["centroid_p_mm"], row["centroid_s_mm"] = lps
        rows.append(row)
    return rows
