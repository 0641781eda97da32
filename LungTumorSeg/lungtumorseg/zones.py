"""Split the thorax into upper / middle / lower zones along the patient's body axis.

The lungs' superior–inferior extent (canonical axis 0, i.e. physical space whatever the
voxel order of the input) is cut into thirds. Each zone gets

* a **weight profile** along the body axis: 1 in the zone's core, linear ramps across the
  ``overlap_mm`` band around each boundary, so the three profiles sum to 1 everywhere in the
  lungs' extent (a partition of unity used to superpose the zone predictions smoothly);
* a **crop box**: the weight support plus ``context_mm`` of image context above and below
  (so sliding windows never see a hard edge where the weights are non-zero), and in-plane
  the lungs' bounding box grown by ``margin_mm`` so juxtapleural and hilar tumours stay in.

The same code assigns training patches to zones and routes inference, so a zone model sees
at training time exactly the region it is asked about at inference time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ZONE_NAMES: tuple[str, str, str] = ("upper", "middle", "lower")


@dataclass(frozen=True)
class ZoneSpec:
    """Parameters of the zone split (from the model card)."""

    overlap_mm: float = 15.0
    margin_mm: float = 20.0
    context_mm: float = 16.0


@dataclass(frozen=True)
class Zone:
    """One zone on the canonical grid: a crop box and a weight profile along axis 0."""

    name: str
    box: tuple[slice, slice, slice]
    weights_z: np.ndarray  # length = canonical size along axis 0

    def crop(self, array: np.ndarray) -> np.ndarray:
        """The zone's crop of a canonical (z, y, x) or channel-first (C, z, y, x) array."""
        return array[(Ellipsis, *self.box)]


def _ramp(z_mm: np.ndarray, centre: float, half_width: float) -> np.ndarray:
    """0 below ``centre - half_width``, 1 above ``centre + half_width``, linear between."""
    if half_width <= 0:
        return (z_mm >= centre).astype(np.float32)
    return np.clip((z_mm - (centre - half_width)) / (2 * half_width), 0.0, 1.0).astype(np.float32)


def zone_boundaries_mm(lung_z_mm: tuple[float, float]) -> tuple[float, float]:
    """Lower/middle and middle/upper boundaries: thirds of the lungs' body-axis extent."""
    lo, hi = lung_z_mm
    third = (hi - lo) / 3.0
    return lo + third, lo + 2 * third


def zone_of_position(z_mm: float, lung_z_mm: tuple[float, float]) -> str:
    """Name of the zone holding body-axis position ``z_mm`` (no overlap: nearest third)."""
    b1, b2 = zone_boundaries_mm(lung_z_mm)
    if z_mm >= b2:
        return "upper"
    if z_mm >= b1:
        return "middle"
    return "lower"


def make_zones(
    lung_mask: np.ndarray,
    spacing_mm: tuple[float, float, float],
    spec: ZoneSpec = ZoneSpec(),
    names: tuple[str, ...] = ZONE_NAMES,
) -> list[Zone]:
    """Build the zones from a canonical-grid lung mask (axis 0 inferior→superior).

    ``names`` is the three anatomical zones, or ``("whole",)`` for one zone covering all
    three (the single-model baseline the region-wise design is compared against).

    ``spacing_mm`` is (x, y, z). Positions are in mm from the canonical origin. Raises
    ``ValueError`` for an empty mask; callers check that lungs were found first.
    """
    if not lung_mask.any():
        raise ValueError("cannot make zones without lungs")
    sx, sy, sz = spacing_mm
    nz, ny, nx = lung_mask.shape
    zs = np.nonzero(lung_mask.any(axis=(1, 2)))[0]
    ys = np.nonzero(lung_mask.any(axis=(0, 2)))[0]
    xs = np.nonzero(lung_mask.any(axis=(0, 1)))[0]
    lung_z = (zs.min() * sz, zs.max() * sz)
    b1, b2 = zone_boundaries_mm(lung_z)
    half = spec.overlap_mm / 2.0
    z_mm = np.arange(nz) * sz
    up_from_lower = _ramp(z_mm, b1, half)  # 0 in lower, 1 in middle and above
    up_from_middle = _ramp(z_mm, b2, half)  # 0 in middle and below, 1 in upper
    weights = {
        "lower": 1.0 - up_from_lower,
        "middle": up_from_lower * (1.0 - up_from_middle),
        "upper": up_from_middle,
    }
    inside = (z_mm >= lung_z[0] - spec.margin_mm) & (z_mm <= lung_z[1] + spec.margin_mm)
    for name in ZONE_NAMES:
        weights[name] = weights[name] * inside

    def grow(lo: int, hi: int, margin_mm: float, step: float, n: int) -> slice:
        pad = int(np.ceil(margin_mm / step))
        return slice(max(lo - pad, 0), min(hi + pad + 1, n))

    y_slice = grow(ys.min(), ys.max(), spec.margin_mm, sy, ny)
    x_slice = grow(xs.min(), xs.max(), spec.margin_mm, sx, nx)
    zones = []
    for name in ZONE_NAMES:
        support = np.nonzero(weights[name] > 0)[0]
        if support.size == 0:  # degenerate (very short lungs): fall back to the lung extent
            support = zs
        z_slice = grow(support.min(), support.max(), spec.context_mm, sz, nz)
        zones.append(Zone(name, (z_slice, y_slice, x_slice), weights[name].astype(np.float32)))
    if names == ("whole",):
        box = tuple(slice(min(z.box[d].start for z in zones), max(z.box[d].stop for z in zones)) for d in range(3))
        total = np.sum([z.weights_z for z in zones], axis=0).astype(np.float32)
        return [Zone("whole", box, total)]  # type: ignore[arg-type]
    return zones


def lung_extent_mm(lung_mask: np.ndarray, spacing_mm: tuple[float, float, float]) -> tuple[float, float]:
    """Lowest and highest body-axis position (mm from canonical origin) holding lung."""
    zs = np.nonzero(lung_mask.any(axis=(1, 2)))[0]
    return float(zs.min() * spacing_mm[2]), float(zs.max() * spacing_mm[2])
