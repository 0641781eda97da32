"""Probability map → lesion label image: threshold, drop tiny components, label by size."""

from __future__ import annotations

import math

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi


def restrict_to_lung_region(
    probability: np.ndarray, lung_mask: np.ndarray, spacing_mm: tuple[float, float, float], margin_mm: float
) -> np.ndarray:
    """Zero the probability farther than ``margin_mm`` from the lungs (canonical grid).

    Tumours are inside the lungs or abut them (juxtapleural, hilar); responses deep in the
    liver, heart or chest wall are false positives.
    """
    distance = ndi.distance_transform_edt(~lung_mask, sampling=(spacing_mm[2], spacing_mm[1], spacing_mm[0]))
    out = probability.copy()
    out[distance > margin_mm] = 0.0
    return out


def label_lesions(probability: sitk.Image, threshold: float, min_lesion_mm3: float) -> sitk.Image:
    """Connected lesions as labels 1..N by decreasing volume (uint16, same grid).

    Components smaller than ``min_lesion_mm3`` are removed. Face connectivity (6-neighbour)
    keeps two lesions touching only at a corner apart.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    binary = sitk.BinaryThreshold(probability, lowerThreshold=float(threshold), upperThreshold=1e9, insideValue=1, outsideValue=0)
    components = sitk.ConnectedComponent(binary, False)
    voxel_mm3 = float(np.prod(probability.GetSpacing()))
    min_voxels = max(int(math.ceil(min_lesion_mm3 / voxel_mm3)), 1) if min_lesion_mm3 > 0 else 0
    relabel = sitk.RelabelComponentImageFilter()
    relabel.SetSortByObjectSize(True)
    relabel.SetMinimumObjectSize(min_voxels)
    labels = relabel.Execute(components)
    return sitk.Cast(labels, sitk.sitkUInt16)
