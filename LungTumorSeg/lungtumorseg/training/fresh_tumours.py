"""Fresh synthetic tumours, drawn into training patches as they are sampled.

Why: the shipped zone networks outline the part-solid and ground-glass tumours of their own
training phantoms more than twice as fully as those of new phantoms (median share of the
tumour marked 0.64 against 0.28 for part-solid; ``benchmarks/results/diagnostics``, session
35). Every run of the demo recipe showed them the same ~100 phantom tumours and the same
~450 tumours of the synthetic copies (a copy's tumours are fixed by its case and number), so
they learnt those tumours rather than the kinds. A tumour drawn when a patch is sampled is
never seen twice. Training on synthetic lesions drawn on the fly is how Hu et al. ("Label-free
liver tumor segmentation", CVPR 2023) reached the accuracy of real annotated tumours.

How: a training crop (one of the cases' own, not a copy) gets one tumour of the copies' law
(:class:`~lungtumorseg.training.insertion.SyntheticTumours`: kind, shape, size) at a voxel of
the lung prior deep enough that the whole tumour lies inside the lungs and away from the
crop's own tumours. The classical lung mask fills holes slice by slice, so a tumour enclosed
by lung belongs to the lungs: the lung channel stays what inference would compute on the
changed CT (tumours against the chest wall, which would change it, come from the phantoms and
the copies). The drawing is the copies' own (:func:`~lungtumorseg.training.insertion.draw_tumour`:
partial volume, the scan's slice profile, restored noise) in HU on the crop's canonical grid;
the CT channel is windowed again, and the nodule-enhancement channel is recomputed on a box
around the tumour padded by three of its largest scales, so that near the tumour it is the
whole-crop filter's response. The crop itself is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from ..enhance import BlobFilter
from ..phantoms.tumours import make_shape_spec
from ..preprocess import IntensityWindow
from .insertion import MIN_GAP_MM, SyntheticTumours, draw_tumour
from .prepare import ZoneCrop
from .sampler import extract_patch

LUNG_CHANNEL = 1
BLOB_PAD_SIGMAS = 3.0  # the blob filter is computed this many of its largest scales beyond the changed box
BLOB_REACH_SIGMAS = 2.0  # a tumour changes the blob response this many largest scales beyond itself
EXTRA_REACH_MM = 3.0  # draw_tumour's own margin around a tumour's extent
LUNG_SAMPLE_STRIDE = 5  # every n-th lung voxel of a crop's core is a candidate centre


@dataclass
class _Background:
    """A crop's placement maps, computed on first use: lung-voxel candidates of its core, their
    depth inside the lung prior and their distance to the crop's own tumours (mm)."""

    candidates: np.ndarray
    depth_mm: np.ndarray
    free_mm: np.ndarray


@dataclass
class FreshTumourDrawer:
    """Cuts training patches that hold one newly drawn tumour (see the module docstring).

    ``law``: which tumours (its ``per_copy`` count is not used: one tumour per patch);
    ``window``: the CT channel's HU window; ``spacing_mm``: the crops' isotropic-or-not grid
    (x, y, z); ``blob``: the nodule-enhancement filter when the input has that channel (it is
    then the last channel).
    """

    law: SyntheticTumours
    window: IntensityWindow
    spacing_mm: tuple[float, float, float]
    blob: BlobFilter | None = None
    tries: int = 30
    _maps: dict[int, _Background] = field(default_factory=dict, repr=False)  # by id() of the crop

    def patch(self, crops: list[ZoneCrop], roi: tuple[int, int, int],
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
        """An (input (C, *roi) float32, label roi uint8) patch of a random crop of ``crops`` with
        one fresh tumour in it (the patch centred on a random voxel of that tumour), or None
        when no crop had room for the tumour drawn."""
        plan = self.law.plan(rng)[0]
        spec = make_shape_spec(plan, plan["diameter_mm"] / 2.0, rng)
        extent = float(spec["extent"])
        spacing_zyx = np.asarray(self.spacing_mm, dtype=float)[::-1]
        for _ in range(self.tries):
            crop = crops[int(rng.integers(len(crops)))]
            centre = self._place(crop, extent, rng)
            if centre is None:
                continue
            drawn = self._draw(crop, centre, spec, plan["kind"], spacing_zyx, rng)
            if drawn is None:
                continue
            image, label, tumour = drawn
            patch_centre = tumour[int(rng.integers(len(tumour)))]
            return extract_patch(ZoneCrop(image, label, crop.core_z, crop.is_copy, crop.slice_mm), patch_centre, roi)
        return None

    def _background(self, crop: ZoneCrop) -> _Background:
        if id(crop) not in self._maps:
            spacing_zyx = tuple(float(s) for s in self.spacing_mm[::-1])
            lungs = crop.image[LUNG_CHANNEL] > 0.5
            lo, hi = crop.core_z
            core = np.zeros(lungs.shape, dtype=bool)
            core[lo : hi + 1] = True
            candidates = np.argwhere(lungs & core)[::LUNG_SAMPLE_STRIDE]
            depth = ndi.distance_transform_edt(np.pad(lungs, 1), sampling=spacing_zyx)[1:-1, 1:-1, 1:-1]
            if crop.label.any():
                free = ndi.distance_transform_edt(crop.label == 0, sampling=spacing_zyx)
                free_at = free[tuple(candidates.T)].astype(np.float32)
            else:
                free_at = np.full(len(candidates), np.inf, dtype=np.float32)
            self._maps[id(crop)] = _Background(candidates, depth[tuple(candidates.T)].astype(np.float32), free_at)
        return self._maps[id(crop)]

    def _place(self, crop: ZoneCrop, extent: float, rng: np.random.Generator) -> np.ndarray | None:
        """A lung voxel of the crop's core where a tumour reaching ``extent`` mm lies wholly
        inside the lung prior (one voxel to spare) and ``MIN_GAP_MM`` from the crop's tumours."""
        maps = self._background(crop)
        fits = np.nonzero((maps.depth_mm >= extent + max(self.spacing_mm))
                          & (maps.free_mm >= extent + MIN_GAP_MM))[0]
        if len(fits) == 0:
            return None
        return maps.candidates[fits[int(rng.integers(len(fits)))]]

    def _draw(self, crop: ZoneCrop, centre: np.ndarray, spec: dict, kind: str, spacing_zyx: np.ndarray,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Copies of the crop's input and label with the tumour drawn at ``centre``, and the
        tumour's voxels (n, 3); None when no voxel of it landed in the lungs."""
        reach = float(spec["extent"]) + EXTRA_REACH_MM + crop.slice_mm
        sigma = max(self.blob.sigmas_mm) if self.blob is not None else 0.0
        changed = _box(centre, reach + BLOB_REACH_SIGMAS * sigma, spacing_zyx, crop.label.shape)
        computed = _box(centre, reach + (BLOB_REACH_SIGMAS + BLOB_PAD_SIGMAS) * sigma, spacing_zyx, crop.label.shape)
        low, high = self.window.low, self.window.high
        hu = crop.image[0][computed].astype(np.float32) * (high - low) + low
        label = crop.label[computed].copy()
        lungs = crop.image[LUNG_CHANNEL][computed] > 0.5
        local = centre - np.array([s.start for s in computed])
        before = label.copy()
        if draw_tumour(hu, label, lungs, local, spec, kind, spacing_zyx, crop.slice_mm, rng) == 0:
            return None
        ct01 = self.window.apply(hu)
        inner = tuple(slice(c.start - o.start, c.stop - o.start) for c, o in zip(changed, computed))
        image = crop.image.copy()
        image[0][computed] = ct01
        if self.blob is not None:
            response = self.blob.apply(ct01, self.spacing_mm, lungs, within=inner)
            image[-1][changed] = response[inner]
        out_label = crop.label.copy()
        out_label[computed] = label
        tumour = np.argwhere((label > 0) & (before == 0)) + np.array([s.start for s in computed])
        return image, out_label, tumour


def _box(centre: np.ndarray, half_mm: float, spacing_zyx: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The voxels within ``half_mm`` of ``centre`` along each axis, clipped to ``shape``."""
    half = np.ceil(half_mm / spacing_zyx).astype(int)
    return tuple(slice(max(int(c) - h, 0), min(int(c) + h + 1, n)) for c, h, n in zip(centre, half, shape))
