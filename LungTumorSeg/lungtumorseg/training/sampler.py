"""Patch sampling from zone crops, balanced between tumour and background.

A fraction ``positive_ratio`` of patches is centred on a random tumour voxel of a case
that has tumour in this zone; a fraction ``lung_ratio`` is centred on a random voxel of
the lung prior (when the input has that channel): hard negatives the network must learn
to ignore. With ``dense_level`` set, those centres are only the *dense* lung voxels
(input intensity at or above it, not tumour): vessels, airway walls, fissures — in one
axial slice a vessel cut across looks like a nodule, only its 3D shape tells them apart,
and random lung voxels are mostly empty parenchyma that teaches nothing. With mined
false positives (``training.mining``), a fraction ``mined_ratio`` is centred on voxels the
starting network wrongly called tumour. The rest are
centred uniformly in the zone's core (where its weight is non-zero). Crops smaller than
the patch are padded with air.

Tumour centres are drawn in one of two ways (``positive_sampling``): ``"voxel"`` picks a
case with tumour, then any of its tumour voxels, so a 45 mm mass (~48,000 mm³) is drawn
~70 times as often as a 11 mm nodule (~700 mm³) beside it; ``"lesion"`` picks one lesion
(a face-connected tumour component of at least ``MIN_LESION_VOXELS``) uniformly among all
lesions of all crops, then a voxel in it, so small and faint (ground-glass) nodules, the
ones a network misses, are seen as often as large solid masses.

With a fresh-tumour drawer (``training.fresh_tumours``), a fraction ``fresh_ratio`` of all
patches is cut around a tumour drawn into one of the cases' own crops at that moment (a
tumour never seen before); the fractions above then share the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage as ndi

from .prepare import ZoneCrop

if TYPE_CHECKING:
    from .fresh_tumours import FreshTumourDrawer

POSITIVE_SAMPLINGS = ("voxel", "lesion")
# Components smaller than this (e.g. a lesion's sliver at the crop's edge) are not drawn as
# lesions of their own: 8 voxels of 1.5 mm are 27 mm³, below any lesion the filters keep.
MIN_LESION_VOXELS = 8


def lesion_voxels(label: np.ndarray, min_voxels: int = MIN_LESION_VOXELS) -> list[np.ndarray]:
    """Voxel indices (n, 3) of each face-connected tumour component of ``label`` with at
    least ``min_voxels`` voxels."""
    components, _ = ndi.label(label > 0)
    out = []
    for number, box in enumerate(ndi.find_objects(components), start=1):
        vox = np.argwhere(components[box] == number)
        if len(vox) >= min_voxels:
            out.append(vox + np.array([b.start for b in box]))
    return out


def _pad_to(array: np.ndarray, roi: tuple[int, int, int], value: float) -> np.ndarray:
    """Pad the last three axes up to ``roi``."""
    pads = [(0, 0)] * (array.ndim - 3) + [(0, max(r - s, 0)) for s, r in zip(array.shape[-3:], roi)]
    if any(p[1] for p in pads):
        return np.pad(array, pads, constant_values=value)
    return array


def extract_patch(crop: ZoneCrop, centre: np.ndarray, roi: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Input (float32, (C, *roi)) and label (uint8, roi) patch centred near ``centre``."""
    image = _pad_to(crop.image, roi, 0.0)
    label = _pad_to(crop.label, roi, 0)
    starts = [
        int(np.clip(c - r // 2, 0, s - r)) for c, r, s in zip(centre, roi, label.shape)
    ]
    box = tuple(slice(st, st + r) for st, r in zip(starts, roi))
    return image[(Ellipsis, *box)].astype(np.float32), label[box]


class PatchSampler:
    """Draws (image, label) patches for one zone from a list of prepared crops."""

    def __init__(
        self, crops: list[ZoneCrop], roi: tuple[int, int, int], positive_ratio: float, seed: int,
        lung_ratio: float = 0.0, dense_level: float | None = None,
        mined_voxels: list[np.ndarray] | None = None, mined_ratio: float = 0.0,
        positive_sampling: str = "voxel", fresh: "FreshTumourDrawer | None" = None, fresh_ratio: float = 0.0,
    ):
        if not crops:
            raise ValueError("no training crops for this zone")
        if positive_sampling not in POSITIVE_SAMPLINGS:
            raise ValueError(f"positive_sampling must be one of {POSITIVE_SAMPLINGS}, got {positive_sampling!r}")
        self.crops = crops
        self.roi = roi
        self.positive_ratio = positive_ratio
        self.lung_ratio = lung_ratio
        self.rng = np.random.default_rng(seed)
        self.tumour_voxels = [np.argwhere(c.label > 0) for c in crops]
        self.positive_cases = [i for i, v in enumerate(self.tumour_voxels) if len(v)]
        # (crop index, voxels) of every lesion, for lesion-balanced tumour centres
        self.lesions = [(i, vox) for i, c in enumerate(crops) for vox in lesion_voxels(c.label)] \
            if positive_sampling == "lesion" else []
        self.lung_voxels = [self._lung_voxels(c, dense_level) for c in crops] if lung_ratio > 0 else []
        self.lung_cases = [i for i, v in enumerate(self.lung_voxels) if len(v)]
        if mined_voxels is not None and len(mined_voxels) != len(crops):
            raise ValueError("mined_voxels needs one array per crop")
        self.mined_voxels = mined_voxels or []
        self.mined_ratio = mined_ratio if mined_voxels is not None else 0.0
        self.mined_cases = [i for i, v in enumerate(self.mined_voxels) if len(v)]
        self.fresh = fresh if fresh_ratio > 0 else None
        self.fresh_ratio = fresh_ratio
        # Fresh tumours go into the cases' own crops: a copy's background repeats its original's.
        self.backgrounds = [c for c in crops if not c.is_copy] or list(crops)

    @staticmethod
    def _lung_voxels(crop: ZoneCrop, dense_level: float | None = None, stride: int = 7) -> np.ndarray:
        """Every ``stride``-th lung-prior voxel of the zone core (a light index for sampling);
        with ``dense_level``, only non-tumour voxels whose intensity reaches it."""
        if crop.image.shape[0] < 2:
            return np.empty((0, 3), dtype=np.int64)
        lo, hi = crop.core_z
        candidates = crop.image[1, lo : hi + 1] > 0.5
        if dense_level is not None:
            candidates &= (crop.image[0, lo : hi + 1] >= dense_level) & (crop.label[lo : hi + 1] == 0)
        vox = np.argwhere(candidates)[::stride]
        vox[:, 0] += lo
        return vox

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        if self.fresh is not None and self.rng.random() < self.fresh_ratio:
            patch = self.fresh.patch(self.backgrounds, self.roi, self.rng)
            if patch is not None:
                return patch
        draw = self.rng.random()
        if self.lesions and draw < self.positive_ratio:
            i, vox = self.lesions[int(self.rng.integers(len(self.lesions)))]
            centre = vox[self.rng.integers(len(vox))]
        elif self.positive_cases and draw < self.positive_ratio:
            i = int(self.rng.choice(self.positive_cases))
            vox = self.tumour_voxels[i]
            centre = vox[self.rng.integers(len(vox))]
        elif self.mined_cases and draw < self.positive_ratio + self.mined_ratio:
            i = int(self.rng.choice(self.mined_cases))
            vox = self.mined_voxels[i]
            centre = vox[self.rng.integers(len(vox))]
        elif self.lung_cases and draw < self.positive_ratio + self.mined_ratio + self.lung_ratio:
            i = int(self.rng.choice(self.lung_cases))
            vox = self.lung_voxels[i]
            centre = vox[self.rng.integers(len(vox))]
        else:
            i = int(self.rng.integers(len(self.crops)))
            crop = self.crops[i]
            lo, hi = crop.core_z
            centre = np.array([
                self.rng.integers(lo, hi + 1),
                self.rng.integers(0, crop.label.shape[1]),
                self.rng.integers(0, crop.label.shape[2]),
            ])
        return extract_patch(self.crops[i], centre, self.roi)

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``size`` patches stacked as inputs (B, C, D, H, W) and labels (B, 1, D, H, W)."""
        pairs = [self.sample() for _ in range(size)]
        images = np.stack([p[0] for p in pairs])
        labels = np.stack([p[1] for p in pairs])[:, None]
        return images, labels
