"""Per-case patient model: habitus, landmark heights and cranio-caudal shape profiles.

Patient coordinates are LPS millimetres with the origin on the midline at the carina
(z = 0). Shape profiles are tabulated against z for an average adult (knot values from
typical adult thoracic dimensions: chest ~320-340 mm wide, ~200-240 mm deep, lungs
~250 mm tall posteriorly) and scaled per patient by an overall size factor, a width
ratio, a depth ratio and a subcutaneous fat thickness.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .hu import sample_tissue_hu

#: z knots (mm, relative to the carina, before scaling), ascending for np.interp.
Z_KNOTS = np.array([-260, -200, -150, -100, -50, 0, 50, 90, 115, 135, 160, 220], dtype=float)
PROFILES = {
    # body outline (lean adult, fat added separately)
    "a": [150, 155, 160, 162, 162, 158, 160, 158, 140, 85, 62, 60],
    "ba": [112, 108, 102, 98, 95, 92, 82, 72, 64, 56, 50, 50],
    "bp": [100, 100, 102, 104, 106, 106, 104, 100, 95, 80, 62, 60],
    # inner surface of the rib cage (thoracic / upper abdominal cavity)
    "ac": [125, 136, 141, 142, 140, 132, 118, 98, 72, 45, 40, 40],
    "bca": [90, 88, 84, 80, 75, 70, 60, 50, 40, 32, 30, 30],
    "bcp": [74, 77, 79, 79, 78, 76, 70, 62, 52, 42, 40, 40],
    # vertebral body centre (y) and radius
    "yv": [40, 45, 47, 48, 48, 46, 42, 38, 30, 22, 15, 15],
    "rv": [21, 20, 19, 18, 17, 16, 15, 14, 13, 11, 10, 10],
    # mediastinal fat band half-width
    "hw": [14, 15, 17, 18, 22, 24, 22, 18, 16, 16, 16, 16],
}

_LUT_Z0, _LUT_STEP = -400.0, 4.0
_LUT = {k: np.interp(_LUT_Z0 + np.arange(3201) / _LUT_STEP, Z_KNOTS, v).astype(np.float32)
        for k, v in PROFILES.items()}


@dataclass
class Patient:
    """All per-case anatomical parameters (deterministic given the rng)."""

    s: float
    wr: float
    dr: float
    fat: float
    female: bool
    contrast: bool
    hu: dict
    z_apex: tuple[float, float]
    z_dome: tuple[float, float]
    yc: float
    rib_z: np.ndarray  # (2, 12) posterior rib heights, [right, left]
    rib_drop: np.ndarray  # (12,)
    vert_period: float
    vert_phase: float
    table_gap: float
    table_curv: float
    lung_waves: np.ndarray  # (n, 5): kx, ky, kz, phase, amp
    heart: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def prof(self, name: str, z):
        """Profile value at height z (scalar or array), scaled for this patient.

        Arrays (oblique slices) use a 0.25 mm lookup table instead of np.interp (fast)."""
        if np.ndim(z) == 0:
            v = np.interp(float(z) / self.s, Z_KNOTS, PROFILES[name])
        else:
            lut = _LUT[name]
            i = np.clip(((z / self.s) - _LUT_Z0) * _LUT_STEP, 0, lut.size - 1).astype(np.int32)
            v = lut[i]
        if name in ("a", "ac"):
            return v * self.s * self.wr
        if name in ("ba", "bp", "bca", "bcp"):
            return v * self.s * self.dr
        return v * self.s

    def body_axes(self, z):
        """(a, ba, bp) of the skin outline: lean outline plus subcutaneous fat."""
        neck = np.clip((np.asarray(z) / self.s - 110.0) / 40.0, 0.0, 1.0)
        f = (self.fat - 8.0) * (1.0 - 0.6 * neck)
        return self.prof("a", z) + f, self.prof("ba", z) + 1.2 * f, self.prof("bp", z) + 0.5 * f

    @property
    def z_cavity_top(self) -> float:
        return max(self.z_apex) + 6.0

    @property
    def lung_z_range(self) -> tuple[float, float]:
        """Approximate (lowest costophrenic recess, apex) heights of the lungs."""
        return (min(self.z_dome) - 80.0 * self.s, max(self.z_apex))

    def hilum(self, side: int) -> np.ndarray:
        """Hilum point of the right (1) or left (2) lung."""
        s = self.s
        if side == 1:
            return np.array([-48 * s * self.wr, 8 * s, -18 * s])
        return np.array([52 * s * self.wr, 12 * s, -14 * s])

    def width(self) -> float:
        a, _, _ = self.body_axes(-60.0 * self.s)
        return float(2 * a)


def sample_patient(rng: np.random.Generator, contrast: bool | None) -> Patient:
    """Draw a patient: size, habitus, fat, sex, landmarks, contrast phase, tissue HU."""
    s = float(np.clip(rng.normal(1.0, 0.06), 0.86, 1.14))
    wr = float(np.clip(rng.normal(1.0, 0.05), 0.9, 1.1))
    dr = float(np.clip(rng.normal(1.0, 0.06), 0.88, 1.14))
    fat = float(np.clip(rng.gamma(2.5, 5.0), 3.0, 40.0))
    female = bool(rng.uniform() < 0.5)
    if contrast is None:
        contrast = bool(rng.uniform() < 0.4)
    hu = sample_tissue_hu(rng, contrast)
    z_apex = (float(112 * s + rng.normal(0, 4)), float(108 * s + rng.normal(0, 4)))
    dome_r = float(-112 * s + rng.normal(0, 8))
    z_dome = (dome_r, dome_r - float(rng.uniform(8, 22)))
    period = 24.0 * s
    rib1 = z_apex[0] - 12.0 * s
    rib_z = np.stack([rib1 - period * np.arange(12) + rng.normal(0, 2, 12) + d
                      for d in (0.0, rng.uniform(-4, 4))])
    rib_drop = (np.linspace(45, 95, 12) * s * rng.uniform(0.85, 1.15)).astype(float)
    waves = []
    for _ in range(4):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        lam = rng.uniform(25, 90)
        waves.append([*(2 * np.pi / lam * d), rng.uniform(0, 2 * np.pi), rng.uniform(3, 8)])
    heart = {
        "centre": np.array([18 * s * wr, -14 * s * dr, -76 * s]) + rng.normal(0, 4, 3),
        "semi": np.array([68, 50, 52]) * s * rng.uniform(0.9, 1.12),
        "angle": float(np.deg2rad(rng.uniform(-45, -25))),
    }
    return Patient(s=s, wr=wr, dr=dr, fat=fat, female=female, contrast=contrast, hu=hu,
                   z_apex=z_apex, z_dome=z_dome, yc=-5.0 * s, rib_z=rib_z, rib_drop=rib_drop,
                   vert_period=period, vert_phase=float(rng.uniform(0, period)),
                   table_gap=float(rng.uniform(0, 12)), table_curv=float(rng.uniform(0, 6e-4)),
                   lung_waves=np.array(waves), heart=heart,
                   extra={"breast": float(rng.uniform(10, 35)) if female else 0.0,
                          "gas_level": float(rng.uniform(0.2, 0.6))})
