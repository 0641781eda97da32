"""Turn a labelled case into per-zone training crops on the model's canonical grid.

Uses exactly the inference code path (canonical resampling, lung finder, zone split), so a
zone model is trained on the same region it is asked about at inference time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import SimpleITK as sitk

from ..enhance import BlobFilter
from ..io import read_image
from ..lungs import find_lungs
from ..preprocess import IntensityWindow, canonical_reference, network_input, to_canonical
from ..zones import ZONE_NAMES, ZoneSpec, make_zones
from .dataset import CasePaths


@dataclass
class ZoneCrop:
    """A zone's network-input crop (float16, (C, z, y, x)) and tumour mask (uint8, (z, y, x)),
    plus the z-range of the crop where the zone's weight is non-zero (where patch centres
    are drawn). ``is_copy`` marks a crop of a changed copy of a case — its tumours faded
    (``training.faint``) or new tumours drawn in (``training.insertion``): its background
    repeats the original's, so it is not mined again. ``slice_mm``: the source scan's slice
    thickness (its largest spacing), so tumours drawn into its patches later
    (``training.fresh_tumours``) get the same z blur as the scan's own; 0 when unknown."""

    image: np.ndarray
    label: np.ndarray
    core_z: tuple[int, int]
    is_copy: bool = False
    slice_mm: float = 0.0


@dataclass
class PreparedCase:
    """A case ready for patch sampling: one crop per zone."""

    name: str
    zones: dict[str, ZoneCrop]


def source_slice_mm(path: Path) -> float:
    """A scan file's slice thickness, taken as its largest voxel spacing (what
    :func:`prepare_case` gives the copies' z blur), read from the header only; 0 for a folder
    (a DICOM series) or a file whose header cannot be read."""
    if Path(path).is_dir():
        return 0.0
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return 0.0
    return float(max(reader.GetSpacing()))


def prepare_case(
    case: CasePaths,
    spacing_mm: tuple[float, float, float],
    window: IntensityWindow,
    spec: ZoneSpec,
    zone_names: list[str],
    lung_channel: bool = False,
    blob: BlobFilter | None = None,
    fade: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    insert: Callable[[np.ndarray, np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]] | None = None,
) -> PreparedCase | None:
    """Prepared crops, or None when no lungs are found (the case is then skipped).

    ``fade(hu, tumour)`` returns a changed copy of the canonical HU array (a faint-tumour
    copy, ``training.faint``); the lungs are found on the original, as the copy's anatomy is
    the same, and the input channels are computed from the faded CT.
    ``insert(hu, tumour, lung_mask, slice_mm)`` returns changed copies of the HU array and
    the tumour mask with new tumours drawn into the lungs (a synthetic-tumour copy,
    ``training.insertion``); the lungs are then found again on the changed CT, as inference
    would find them (a tumour against the chest wall leaves the classical lung mask).
    """
    image = read_image(case.image)
    label = read_image(case.label)
    canonical = to_canonical(image, spacing_mm)
    ref = canonical_reference(image, spacing_mm)
    label_c = sitk.Resample(label, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    hu = sitk.GetArrayFromImage(canonical)
    tumour = (sitk.GetArrayFromImage(label_c) > 0).astype(np.uint8)
    lungs = find_lungs(hu, spacing_mm)
    if not lungs.found:
        return None
    if fade is not None:
        hu = fade(hu, tumour)
    if insert is not None:
        hu, tumour = insert(hu, tumour, lungs.mask, float(max(image.GetSpacing())))
        lungs = find_lungs(hu, spacing_mm)
        if not lungs.found:
            return None
    norm = network_input(hu, lungs.mask, window, lung_channel, blob, spacing_mm)
    zones = {}
    names = ("whole",) if list(zone_names) == ["whole"] else ZONE_NAMES
    for zone in make_zones(lungs.mask, spacing_mm, spec, names):
        if zone.name not in zone_names:
            continue
        support = np.nonzero(zone.weights_z[zone.box[0]] > 0)[0]
        zones[zone.name] = ZoneCrop(
            zone.crop(norm).astype(np.float16),
            zone.crop(tumour),
            (int(support.min()), int(support.max())),
            is_copy=fade is not None or insert is not None,
            slice_mm=float(max(image.GetSpacing())),
        )
    return PreparedCase(case.name, zones)
