"""Configuration of the synthetic thorax CT engine.

``PhantomConfig`` is a plain dataclass: every field has a default, and fields left at
``None`` (or ``"random"``) are drawn per case from the seed, so one config describes a
whole *distribution* of acquisitions and patients while each seed stays deterministic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

ORIENTATIONS = ("axial-lps", "ras", "feet-first", "oblique", "random")
SIZES = ("full", "small")


@dataclass
class PhantomConfig:
    """What kind of case to simulate.

    size: ``"full"`` (clinical 512x512 matrix, 0.6-1.0 mm pixels, 1-5 mm slices,
        280-380 mm coverage from lower neck to upper abdomen) or ``"small"`` (about
        256x256, 1.2-1.6 mm pixels, 2-5 mm slices; for tests and training).
    spacing: explicit (x, y, z) voxel spacing in mm, overrides the size preset.
    matrix: explicit in-plane matrix, an int (square) or (nx, ny).
    z_extent_mm: explicit cranio-caudal coverage in mm (centred on the lungs).
    orientation: ``"axial-lps"`` (identity), ``"ras"`` (diag(-1,-1,1)), ``"feet-first"``
        (diag(-1,1,-1), k runs inferior), ``"oblique"`` (5-15 degree tilt), ``"random"``
        (one of these by seed), or an explicit 3x3 direction (columns = axis directions).
    n_tumours: fixed count, or None for 0..max_tumours with ``tumour_free_fraction``
        of cases tumour-free.
    tumour_diameter_mm: (min, max) nominal tumour diameter; most are 10-35 mm.
    tumour_kind_weights: relative frequency of solid, part-solid and ground-glass tumours
        (normalised; the default 0.65 / 0.2 / 0.15 is the engine's distribution, and other
        weights make sets rich in non-solid tumours, e.g. for mining training examples).
    noise: add correlated quantum noise (False gives the noise-free image, same anatomy).
    noise_sigma_hu: (min, max) noise standard deviation range in HU.
    blur: apply the scanner point-spread function.
    contrast: True/False for an IV-contrast (arterial-ish) phase, None = by seed (40 %).
    fov_padding: HU value outside the reconstruction circle (-1024, -2000, -3024), None
        for no circle, or "random".
    table: draw the CT table under the patient.
    vessel_density: number of attractor points per vessel tree, relative to default.
    """

    size: str = "full"
    spacing: Sequence[float] | None = None
    matrix: int | Sequence[int] | None = None
    z_extent_mm: float | None = None
    orientation: Any = "random"
    n_tumours: int | None = None
    max_tumours: int = 4
    tumour_free_fraction: float = 0.2
    tumour_diameter_mm: Sequence[float] = (5.0, 60.0)
    tumour_kind_weights: Sequence[float] = (0.65, 0.2, 0.15)
    noise: bool = True
    noise_sigma_hu: Sequence[float] = (8.0, 25.0)
    blur: bool = True
    contrast: bool | None = None
    fov_padding: Any = "random"
    table: bool = True
    vessel_density: float = 1.0

    def validate(self) -> None:
        """Raise ``ValueError`` on inconsistent settings."""
        if self.size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, got {self.size!r}")
        if isinstance(self.orientation, str) and self.orientation not in ORIENTATIONS:
            raise ValueError(f"orientation must be one of {ORIENTATIONS} or a 3x3 matrix")
        lo, hi = self.tumour_diameter_mm
        if not 0 < lo <= hi:
            raise ValueError("tumour_diameter_mm must be (min, max) with 0 < min <= max")
        weights = tuple(float(w) for w in self.tumour_kind_weights)
        if len(weights) != 3 or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("tumour_kind_weights must be three non-negative weights "
                             "(solid, part-solid, ground-glass) with a positive sum")
        if self.n_tumours is not None and self.n_tumours < 0:
            raise ValueError("n_tumours must be >= 0")
        if self.spacing is not None and len(self.spacing) != 3:
            raise ValueError("spacing must be (x, y, z)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable copy (tuples become lists, numpy arrays become lists)."""
        out = asdict(self)
        for k, v in out.items():
            if hasattr(v, "tolist"):
                out[k] = v.tolist()
            elif isinstance(v, tuple):
                out[k] = [list(x) if isinstance(x, (tuple, list)) else x for x in v]
        return out
