"""Preprocessing to the model's canonical grid and the exact inverse back to the input grid.

The canonical grid is axis-aligned in patient space (identity direction in SimpleITK's LPS
world: array axis 0 runs inferior→superior, axis 1 anterior→posterior, axis 2 right→left)
at the spacing the model card asks for, and covers the input's whole physical extent. Any
input orientation (LPS, RAS, feet-first, oblique) therefore reaches the network the same
way, and zones can be cut along array axis 0, which is the patient's body axis.

The inverse resamples the canonical probability map onto the input image's own grid (same
size, spacing, origin and direction), so labels line up voxel for voxel with the input.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from .enhance import BlobFilter

AIR_HU = -1024.0


@dataclass(frozen=True)
class IntensityWindow:
    """HU window the network was trained with: values are clipped then scaled to [0, 1]."""

    low: float = -1000.0
    high: float = 500.0

    def apply(self, hu: np.ndarray) -> np.ndarray:
        """Clip to the window and scale to [0, 1] as float32."""
        out = np.clip(hu.astype(np.float32, copy=False), self.low, self.high)
        out -= self.low
        out /= self.high - self.low
        return out


def input_channel_names(lung_channel: bool, blob: bool) -> list[str]:
    """What :func:`network_input` stacks, in order (the card's ``preprocessing.input_channels``;
    its length is the network's ``in_channels``)."""
    return (["CT (windowed)"] + (["classical lung mask"] if lung_channel else [])
            + (["nodule enhancement (multi-scale Hessian blob filter)"] if blob else []))


def network_input(
    hu: np.ndarray,
    lung_mask: np.ndarray,
    window: IntensityWindow,
    lung_channel: bool,
    blob: BlobFilter | None = None,
    spacing_mm: tuple[float, float, float] | None = None,
) -> np.ndarray:
    """The network's input channels on the canonical grid, shape (C, z, y, x), float32.

    Channel 0 is the windowed CT. With ``lung_channel`` the next channel holds the
    classical lung mask (0/1): a tumour is dense tissue *inside or against the lung*, and
    the same density in the chest wall or mediastinum is not — the prior gives the network
    that context directly instead of making it learn it from scratch. With ``blob`` the
    last channel is the nodule-enhancement response (:mod:`lungtumorseg.enhance`; needs
    ``spacing_mm``). Training and inference both build their input here.
    """
    ct = window.apply(hu)
    channels = [ct]
    if lung_channel:
        channels.append(lung_mask.astype(np.float32))
    if blob is not None:
        if spacing_mm is None:
            raise ValueError("the blob channel needs the grid spacing")
        channels.append(blob.apply(ct, spacing_mm, lung_mask))
    return np.stack(channels)


def physical_bounds(image: sitk.Image) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest LPS coordinates of the image's voxel centres (all 8 corners)."""
    size = image.GetSize()
    corners = [
        image.TransformContinuousIndexToPhysicalPoint([float(c) for c in corner])
        for corner in itertools.product(*[(0, s - 1) for s in size])
    ]
    pts = np.asarray(corners)
    return pts.min(axis=0), pts.max(axis=0)


def canonical_reference(image: sitk.Image, spacing_mm: tuple[float, float, float]) -> sitk.Image:
    """An empty axis-aligned image at ``spacing_mm`` (x, y, z) covering ``image``'s extent."""
    low, high = physical_bounds(image)
    spacing = np.asarray(spacing_mm, dtype=float)
    # Every canonical voxel centre lies inside the input's extent (no half-empty edge slice).
    size = np.maximum(np.floor((high - low) / spacing + 1e-6).astype(int) + 1, 1)
    ref = sitk.Image([int(s) for s in size], sitk.sitkFloat32)
    ref.SetSpacing([float(s) for s in spacing])
    ref.SetOrigin([float(v) for v in low])
    ref.SetDirection(np.eye(3).flatten().tolist())
    return ref


def to_canonical(
    image: sitk.Image,
    spacing_mm: tuple[float, float, float],
    default_value: float = AIR_HU,
) -> sitk.Image:
    """Resample a CT (HU) onto its canonical grid with linear interpolation.

    Regions of the canonical box that the input does not cover (oblique inputs) are filled
    with air so the lung finder treats them as outside the body.
    """
    ref = canonical_reference(image, spacing_mm)
    return sitk.Resample(
        sitk.Cast(image, sitk.sitkFloat32),
        ref,
        sitk.Transform(),
        sitk.sitkLinear,
        float(default_value),
        sitk.sitkFloat32,
    )


def array_to_image(array: np.ndarray, reference: sitk.Image) -> sitk.Image:
    """Wrap a (z, y, x) array as an image with ``reference``'s geometry."""
    img = sitk.GetImageFromArray(array)
    img.CopyInformation(reference)
    return img


def to_input_grid(
    canonical: sitk.Image,
    input_image: sitk.Image,
    interpolator: int = sitk.sitkLinear,
    default_value: float = 0.0,
) -> sitk.Image:
    """Resample a canonical-grid map back onto the input image's exact grid."""
    return sitk.Resample(
        canonical,
        input_image,
        sitk.Transform(),
        interpolator,
        float(default_value),
        canonical.GetPixelID(),
    )
