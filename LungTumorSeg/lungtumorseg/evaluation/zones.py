"""Evaluation per anatomical zone (upper / middle / lower thirds of the lungs' body-axis extent).

A voxel belongs to the zone whose third holds its physical (LPS) z, using the same rule as
the pipeline (:func:`lungtumorseg.zones.zone_of_position`: boundaries at 1/3 and 2/3 of the
lungs' extent, everything above the lungs counts as upper and everything below as lower).
A lesion belongs to the zone of its centroid. Per-zone voxel metrics are computed over the
voxels of that zone only (so TN, accuracy and RMSE are the zone's own).

The lungs' extent comes, best first, from:

1. ``truth``: the reference lungs (phantom metadata ``lungs_z_extent_lps_mm``);
2. ``pipeline``: the lung extent the segmentation run found (``lung_z_lps_mm`` of the
   result, when the pipeline provides it);
3. ``zone_boxes``: reconstructed from the run's ``zones_lps_z_mm`` crop boxes and the model
   card's overlap/context (the middle box spans the two boundaries ± overlap/2 + context;
   accurate to about two model voxels);
4. ``image``: the image's own z extent (last resort; the zones are then thirds of the scan).

The source used is recorded per case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..zones import ZONE_NAMES, zone_boundaries_mm
from .geometry import Grid
from .metrics import voxel_metrics


def zone_index_map(shape: tuple[int, int, int], grid: Grid, lung_z_mm: tuple[float, float]) -> np.ndarray:
    """uint8 map (same shape) of each voxel's zone as an index into ``ZONE_NAMES``."""
    b1, b2 = zone_boundaries_mm(lung_z_mm)
    upper, middle, lower = (ZONE_NAMES.index(n) for n in ("upper", "middle", "lower"))
    zparts = grid.z_of_slices(shape)
    out = np.empty(shape, dtype=np.uint8)
    for k in range(shape[0]):
        z = zparts.of_slice(k)
        out[k] = np.where(z >= b2, upper, np.where(z >= b1, middle, lower))
    return out


def zone_voxel_metrics(
    pred: np.ndarray,
    truth: np.ndarray,
    grid: Grid,
    lung_z_mm: tuple[float, float],
    probability: Optional[np.ndarray] = None,
    slice_axis: int = 0,
) -> dict[str, dict[str, float]]:
    """:func:`voxel_metrics` restricted to each zone: ``{zone: metrics}``."""
    zmap = zone_index_map(pred.shape, grid, lung_z_mm)
    out = {}
    for i, name in enumerate(ZONE_NAMES):
        region = zmap == i
        out[name] = voxel_metrics(pred, truth, grid.spacing_xyz, probability, slice_axis, region)
        out[name]["zone_voxels"] = int(np.count_nonzero(region))
    return out


def lung_extent_from_meta(image_path: Path) -> Optional[tuple[float, float]]:
    """The reference lungs' LPS z extent from phantom metadata next to the image, if any.

    Looks for ``<root>/meta/<name>.json`` (MSD layout written by the phantom engine) and
    ``<name>.json`` beside the image (single-case layout).
    """
    name = image_path.name
    for suffix in (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    for candidate in (image_path.parent.parent / "meta" / f"{name}.json", image_path.parent / f"{name}.json"):
        if candidate.is_file():
            try:
                extent = json.loads(candidate.read_text(encoding="utf-8")).get("lungs_z_extent_lps_mm")
            except (OSError, json.JSONDecodeError):
                continue
            if extent and len(extent) == 2 and extent[1] > extent[0]:
                return float(extent[0]), float(extent[1])
    return None


def lung_extent_from_zone_boxes(
    zones_lps_z_mm: Mapping[str, Sequence[float]], overlap_mm: float, context_mm: float
) -> Optional[tuple[float, float]]:
    """Reconstruct the lungs' extent from the pipeline's middle-zone crop box.

    The middle box is ``[b1 - overlap/2 - context, b2 + overlap/2 + context]`` with b1, b2
    the zone boundaries at 1/3 and 2/3 of the lung extent, hence extent = b1 - (b2 - b1) ..
    b2 + (b2 - b1). Returns None without a middle zone or for a degenerate box.
    """
    box = zones_lps_z_mm.get("middle")
    if not box or len(box) != 2:
        return None
    pad = overlap_mm / 2.0 + context_mm
    b1, b2 = min(box) + pad, max(box) - pad
    if b2 <= b1:
        return None
    third = b2 - b1
    return float(b1 - third), float(b2 + third)


def image_z_extent(shape: tuple[int, int, int], grid: Grid) -> tuple[float, float]:
    """Lowest and highest physical z of the image's corner voxels."""
    corners = np.array([[k, j, i] for k in (0, shape[0] - 1) for j in (0, shape[1] - 1) for i in (0, shape[2] - 1)])
    z = grid.kji_to_lps(corners)[:, 2]
    return float(z.min()), float(z.max())


def resolve_lung_extent(
    image_path: Optional[Path],
    result: Any,
    card: Optional[Mapping[str, Any]],
    shape: tuple[int, int, int],
    grid: Grid,
) -> tuple[tuple[float, float], str]:
    """(lung z extent in LPS mm, source name) by the priority in the module docstring."""
    if image_path is not None:
        extent = lung_extent_from_meta(Path(image_path))
        if extent:
            return extent, "truth"
    found = getattr(result, "lung_z_lps_mm", None)
    if found and len(found) == 2 and found[1] > found[0]:
        return (float(found[0]), float(found[1])), "pipeline"
    boxes = getattr(result, "zones_lps_z_mm", None)
    if boxes and card is not None:
        z = card.get("zones", {})
        extent = lung_extent_from_zone_boxes(boxes, float(z.get("overlap_mm", 15.0)), float(z.get("context_mm", 16.0)))
        if extent:
            return extent, "zone_boxes"
    return image_z_extent(shape, grid), "image"
