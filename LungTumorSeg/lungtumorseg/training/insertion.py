"""Synthetic-tumour copies: training cases with new tumours drawn into their lungs.

Why: the demo training set has about a hundred tumours in all (60 phantoms, 0–4 each), and
only some fifteen of them are ground-glass. The networks under-fit exactly those: held out
they find 1 of 5 ground-glass and 4 of 8 part-solid nodules, and most missed ones get no
response at all. Re-using the same tumours — faded (``training.faint``) or sampled per
lesion — did not teach them. A synthetic-tumour copy instead adds *new* tumours, each with
its own shape, size, density, texture and place, drawn by the phantom engine's own tumour
model (``phantoms.tumours``: round, lobulated and spiculated shapes; solid, part-solid and
ground-glass kinds, Fleischner nomenclature, Hansell et al., Radiology 2008), so every copy
shows the network tumours it has never seen. Inserting synthetic lesions into real scans
to multiply the tumours a network learns from is an established way to train lesion
segmentation with few labelled cases (Hu et al., "Label-free liver tumor segmentation",
CVPR 2023).

The tumours are drawn on the canonical HU grid, *before* the lungs are found and the
network's input channels are computed, so the lung mask and the nodule-enhancement channel
of a copy are exactly what inference would compute for that image. Partial volume follows
the engine (a coverage ramp one voxel wide, then the slice profile of the source scan along
z); the CT noise the drawn densities replace is restored with noise of the surrounding
lung's level, so an inserted tumour is not recognisable by being smoother than the lung.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage as ndi

from ..phantoms.hu import RANGES
from ..phantoms.tumours import local_coordinates, make_shape_spec, tumour_layers

KINDS = ("solid", "part-solid", "ground-glass")
SHAPES = ("round", "lobulated", "spiculated")
AERATED_LUNG_HU = -500.0  # voxels below this around a tumour give the lung's noise level
DEFAULT_NOISE_HU = 15.0  # noise level when a tumour has too little aerated lung around it
MIN_GAP_MM = 5.0  # between an inserted tumour and any other tumour
NOISE_CORRELATION_VOXELS = 0.6  # in-plane smoothing of the restored noise (CT noise is correlated)


@dataclass(frozen=True)
class SyntheticTumours:
    """How many and which tumours a synthetic-tumour copy gets.

    ``per_copy``: the number of tumours, drawn uniformly in this closed range. ``kind_weights``:
    the chances of solid, part-solid and ground-glass — weighted towards the faint kinds the
    networks miss (the phantoms themselves have 0.65 / 0.2 / 0.15). ``median_diameter_mm``
    and ``diameter_mm``: a log-normal size (σ 0.5 of the log), clipped to that range.
    ``shape_weights``: round, lobulated, spiculated (as in the phantoms).
    """

    per_copy: tuple[int, int] = (2, 4)
    kind_weights: tuple[float, float, float] = (0.4, 0.3, 0.3)
    median_diameter_mm: float = 14.0
    diameter_mm: tuple[float, float] = (6.0, 40.0)
    shape_weights: tuple[float, float, float] = (0.35, 0.4, 0.25)

    def __post_init__(self) -> None:
        low, high = self.per_copy
        if not 1 <= low <= high:
            raise ValueError(f"per_copy must satisfy 1 <= low <= high, got {self.per_copy}")
        for name, weights in (("kind_weights", self.kind_weights), ("shape_weights", self.shape_weights)):
            if len(weights) != 3 or min(weights) < 0 or sum(weights) <= 0:
                raise ValueError(f"{name} needs three non-negative weights with a positive sum, got {weights}")
        dlo, dhi = self.diameter_mm
        if not 0 < dlo <= self.median_diameter_mm <= dhi:
            raise ValueError(f"need 0 < diameter low <= median <= high, got {self.diameter_mm}, "
                             f"median {self.median_diameter_mm}")

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    def plan(self, rng: np.random.Generator) -> list[dict]:
        """The kind, shape and diameter of each tumour of one copy."""
        count = int(rng.integers(self.per_copy[0], self.per_copy[1] + 1))
        kinds = np.asarray(self.kind_weights, dtype=float)
        shapes = np.asarray(self.shape_weights, dtype=float)
        plans = []
        for _ in range(count):
            kind = str(rng.choice(KINDS, p=kinds / kinds.sum()))
            shape = str(rng.choice(SHAPES, p=shapes / shapes.sum()))
            if kind == "ground-glass" and shape == "spiculated":
                shape = "round"  # as in the phantoms: spicules are solid
            diameter = float(np.clip(np.exp(rng.normal(np.log(self.median_diameter_mm), 0.5)), *self.diameter_mm))
            plans.append({"kind": kind, "shape": shape, "diameter_mm": diameter})
        return plans

    def apply(self, hu: np.ndarray, tumour: np.ndarray, lung_mask: np.ndarray,
              spacing_mm: tuple[float, float, float], slice_mm: float,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[dict]]:
        """A copy of ``hu`` (z, y, x; HU, on a grid of ``spacing_mm`` (x, y, z)) and of
        ``tumour`` with new tumours drawn inside ``lung_mask``, and one record per tumour
        drawn. ``slice_mm`` is the source scan's slice thickness (its z blur is imitated).
        The inputs are not modified; voxels away from the new tumours keep their values.

        Each tumour goes into a zone third of the lungs' z extent chosen uniformly (as the
        phantoms place them), at a lung voxel at least half its radius inside the lung mask
        (so juxtapleural tumours touch the chest wall and are clipped to the lung, like the
        phantoms' labels) and at least 5 mm from every other tumour. A tumour that finds no
        such place is left out.
        """
        out = hu.astype(np.float32, copy=True)
        label = (tumour > 0).astype(np.uint8)
        lungs = lung_mask > 0
        if not lungs.any():
            return out, label, []
        spacing_zyx = np.asarray(spacing_mm, dtype=float)[::-1]
        # Distances are needed only inside the lungs: compute them on the lungs' box, padded
        # by one voxel so the box's faces count as outside the lungs.
        box = ndi.find_objects(lungs.astype(np.uint8))[0]
        lungs_box = np.pad(lungs[box], 1)
        depth = ndi.distance_transform_edt(lungs_box, sampling=spacing_zyx)[1:-1, 1:-1, 1:-1]
        tumour_box = label[box]
        free = ndi.distance_transform_edt(tumour_box == 0, sampling=spacing_zyx) if tumour_box.any() \
            else np.full(tumour_box.shape, np.inf)
        offset = np.array([b.start for b in box])
        placed: list[tuple[np.ndarray, float]] = []  # (centre in mm, reach) of the tumours drawn here
        records = []
        for plan in self.plan(rng):
            radius = plan["diameter_mm"] / 2.0
            centre = _place(depth, free, placed, radius, spacing_zyx, rng)
            if centre is None:
                continue
            spec = make_shape_spec(plan, radius, rng)
            voxels = draw_tumour(out, label, lungs, centre + offset, spec, plan["kind"], spacing_zyx, slice_mm, rng)
            if voxels == 0:
                continue
            placed.append((centre * spacing_zyx, float(spec["extent"])))
            records.append({**plan, "centre_zyx": [int(v) for v in centre + offset], "voxels": voxels})
        return out, label, records


def _place(depth: np.ndarray, free: np.ndarray, placed: list[tuple[np.ndarray, float]], radius: float,
           spacing_zyx: np.ndarray, rng: np.random.Generator, tries: int = 20) -> np.ndarray | None:
    """A voxel (z, y, x; in the lungs' box) in a uniformly chosen third of the lungs' z range
    where the tumour fits: depth inside the lungs >= radius / 2, and at least radius + gap
    from the case's own tumours and from the reach of the tumours drawn before it."""
    third = depth.shape[0] / 3.0
    zone = int(rng.integers(3))
    z0, z1 = int(zone * third), max(int((zone + 1) * third), int(zone * third) + 1)
    candidates = np.argwhere((depth[z0:z1] >= 0.5 * radius) & (free[z0:z1] >= radius + MIN_GAP_MM))
    if len(candidates) == 0:
        return None
    candidates[:, 0] += z0
    for _ in range(tries):
        centre = candidates[int(rng.integers(len(candidates)))]
        position = centre * spacing_zyx
        if all(np.linalg.norm(position - other) >= radius + reach + MIN_GAP_MM for other, reach in placed):
            return centre
    return None


def draw_tumour(out: np.ndarray, label: np.ndarray, lungs: np.ndarray, centre: np.ndarray, spec: dict, kind: str,
          spacing_zyx: np.ndarray, slice_mm: float, rng: np.random.Generator) -> int:
    """Draw one tumour centred on voxel ``centre`` (z, y, x) into ``out`` (HU) and ``label`` (in
    place), only where ``lungs`` is set; returns its labelled voxels. Used for the copies and for
    the tumours drawn into training patches as they are sampled (``training.fresh_tumours``)."""
    reach = spec["extent"] + 3.0 + slice_mm
    half = np.ceil(reach / spacing_zyx).astype(int)
    box = tuple(slice(max(int(c) - h, 0), min(int(c) + h + 1, n)) for c, h, n in zip(centre, half, out.shape))
    grids = np.meshgrid(*[(np.arange(b.start, b.stop) - c) * s for b, c, s in zip(box, centre, spacing_zyx)],
                        indexing="ij")
    pz, py, px = grids  # mm from the centre, on the z, y, x axes of the canonical grid
    qx, qy, qz = local_coordinates(spec, px, py, pz)
    ggo_hu = float(rng.uniform(*RANGES["ggo"]))
    solid_hu = float(rng.uniform(*RANGES["nodule_solid"]))
    sdf, f_ggo, g, f_core, val = tumour_layers(spec, kind, qx, qy, qz, float(spacing_zyx.min()), ggo_hu, solid_hu)
    inside = lungs[box]
    z_profile = max(int(round(slice_mm / spacing_zyx[0])), 1)  # the source's slice profile along z
    region = out[box]
    original = region.copy()
    changed = np.zeros(region.shape, dtype=np.float32)
    if f_ggo is not None:
        f = _slice_profile(f_ggo, z_profile) * inside
        lift = np.maximum(g - region, 0.0)
        region += f * lift
        changed = np.maximum(changed, f * (lift > 0))
    if f_core is not None:
        f = _slice_profile(f_core, z_profile) * inside
        region += f * (val - region)
        changed = np.maximum(changed, f)
    noise = _lung_noise(original, label[box], inside)
    white = rng.standard_normal(region.shape).astype(np.float32)
    field = ndi.gaussian_filter(white, (0.0, NOISE_CORRELATION_VOXELS, NOISE_CORRELATION_VOXELS))
    field /= max(float(field.std()), 1e-6)
    region += field * noise * np.sqrt(np.clip(1.0 - (1.0 - changed) ** 2, 0.0, 1.0))
    drawn = (sdf < 0) & inside & (label[box] == 0)
    label[box][drawn] = 1
    return int(drawn.sum())


def _slice_profile(fraction: np.ndarray, voxels: int) -> np.ndarray:
    """Average a coverage map over ``voxels`` consecutive z positions (a thick slice)."""
    return ndi.uniform_filter1d(fraction, voxels, axis=0) if voxels > 1 else fraction


def _lung_noise(region: np.ndarray, tumour: np.ndarray, lungs: np.ndarray) -> float:
    """Robust standard deviation of aerated, tumour-free lung voxels in ``region``."""
    values = region[lungs & (tumour == 0) & (region < AERATED_LUNG_HU)]
    if values.size < 50:
        return DEFAULT_NOISE_HU
    return float(1.4826 * np.median(np.abs(values - np.median(values))))
