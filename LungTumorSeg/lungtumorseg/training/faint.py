"""Faint-tumour copies: training cases whose tumours are made to look ground-glass or part-solid.

Why: the demo networks find solid tumours far more often than ground-glass (GGO) and
part-solid ones (held out: solid 13/16, part-solid 4/8, ground-glass 1/5), and most missed
GGO nodules get almost no response at all, so no threshold brings them back. They are rare
in the training data (about 15 % of phantom tumours are GGO, 20 % part-solid, as in
screening series) and, being fainter, contribute less to the loss. A faint copy of a case
has every tumour's density above the surrounding lung scaled down towards that lung — the
appearance of a ground-glass opacity, whose attenuation lies between aerated lung and soft
tissue (about −750 to −300 HU; Hansell et al., Fleischner glossary, Radiology 2008) — and,
for some tumours, a solid core kept at full density (a part-solid nodule). The label is
unchanged: a GGO nodule is tumour all the way to its edge.

The fading is done on the canonical HU grid *before* the network's input channels are
computed, so the nodule-enhancement (blob) channel of a faint copy is exactly what
inference would compute for such a nodule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

AERATED_LUNG_HU = -500.0  # voxels below this around a tumour are the lung it is faded towards
SHELL_MM = 4.0  # thickness of the lung shell around a tumour that gives its background level
DEFAULT_LUNG_HU = -850.0  # background when a tumour has too little aerated lung around it
MIN_SHELL_VOXELS = 20
RIM_MAX_HU = -250.0  # a tumour's partial-volume rim is faded; fat (about -100 HU) and the chest wall never are


@dataclass(frozen=True)
class FaintTumours:
    """How tumours are faded.

    ``keep_range``: the fraction of a tumour's density above its surrounding lung that is kept,
    drawn uniformly per tumour (0.15–0.55: a 30 HU solid nodule in −850 HU lung becomes
    about −720 to −370 HU). ``core_probability``: the chance that a tumour keeps a solid core
    at full density (part-solid), of ``core_fraction_range`` of its depth.
    """

    keep_range: tuple[float, float] = (0.15, 0.55)
    core_probability: float = 0.4
    core_fraction_range: tuple[float, float] = (0.3, 0.6)

    def __post_init__(self) -> None:
        lo, hi = self.keep_range
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"keep_range must satisfy 0 <= low <= high <= 1, got {self.keep_range}")
        if not 0.0 <= self.core_probability <= 1.0:
            raise ValueError(f"core_probability must be between 0 and 1, got {self.core_probability}")

    def to_dict(self) -> dict:
        return {"keep_range": list(self.keep_range), "core_probability": self.core_probability,
                "core_fraction_range": list(self.core_fraction_range)}

    def apply(self, hu: np.ndarray, tumour: np.ndarray, spacing_mm: tuple[float, float, float],
              rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
        """A faded copy of ``hu`` (z, y, x; HU) and one record per tumour (kept fraction, core,
        background HU). ``hu`` itself is not modified; voxels farther than one voxel from a
        tumour keep their values exactly.

        Each tumour (connected component of ``tumour``, plus a one-voxel rim that holds its
        partial-volume edge, restricted to aerated lung so the chest wall is never touched)
        becomes ``background + keep × (hu − background)`` where it is brighter than the
        background; the fading also shrinks the CT noise there, so independent noise of the
        surrounding lung's level restores it.
        """
        out = hu.astype(np.float32, copy=True)
        components, count = ndi.label(tumour > 0)
        if count == 0:
            return out, []
        spacing_zyx = np.asarray(spacing_mm, dtype=float)[::-1]
        shell_voxels = np.maximum(np.rint(SHELL_MM / spacing_zyx).astype(int), 1)
        records = []
        for number, box in enumerate(ndi.find_objects(components), start=1):
            grown = tuple(slice(max(b.start - m - 1, 0), min(b.stop + m + 1, n))
                          for b, m, n in zip(box, shell_voxels, hu.shape))
            lesion = components[grown] == number
            region = out[grown]
            original = hu[grown].astype(np.float32)
            aerated = (original < AERATED_LUNG_HU) & (tumour[grown] == 0)
            shell = ndi.binary_dilation(lesion, iterations=int(shell_voxels.max())) & aerated
            if shell.sum() >= MIN_SHELL_VOXELS:
                background = float(np.median(original[shell]))
                noise = float(1.4826 * np.median(np.abs(original[shell] - background)))
            else:
                background, noise = DEFAULT_LUNG_HU, 0.0
            keep = float(rng.uniform(*self.keep_range))
            keep_map = np.full(lesion.shape, keep, dtype=np.float32)
            core = None
            if rng.uniform() < self.core_probability:
                core = float(rng.uniform(*self.core_fraction_range))
                depth = ndi.distance_transform_edt(lesion, sampling=spacing_zyx)
                inner = depth > (1.0 - core) * depth.max()
                keep_map[inner] = 1.0
            rim = ndi.binary_dilation(lesion) & ~lesion & (original < RIM_MAX_HU) & (tumour[grown] == 0)
            faded = lesion | rim
            excess = np.maximum(original - background, 0.0)
            target = original - (1.0 - keep_map) * excess
            target += rng.normal(0.0, 1.0, lesion.shape).astype(np.float32) * noise \
                * np.sqrt(np.clip(1.0 - keep_map ** 2, 0.0, 1.0)) * (excess > 0)
            region[faded] = target[faded]
            records.append({"keep": keep, "core_fraction": core, "background_hu": background,
                            "voxels": int(lesion.sum())})
        return out, records
