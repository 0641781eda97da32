"""Acquisition geometry: the voxel grid of the simulated scan.

Everything is rendered directly on the output grid (no resampling), so flips, feet-first
and oblique gantry tilts are exact. ``Grid`` works in *patient* coordinates (LPS mm,
origin at the carina on the body midline); ``Geometry.offset`` is added on output to give
scanner-like physical coordinates. Thick slices are rendered as several thin sub-slices
(``Grid.fine``) and averaged, which models the slice-sensitivity profile / partial volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import PhantomConfig

#: Named directions (columns are the i, j, k axis directions in LPS).
DIRECTIONS = {
    "axial-lps": np.diag([1.0, 1.0, 1.0]),
    "ras": np.diag([-1.0, -1.0, 1.0]),
    "feet-first": np.diag([-1.0, 1.0, -1.0]),
}


@dataclass
class Grid:
    """A regular grid: size (nx, ny, nz), spacing (mm), origin (mm), direction (3x3)."""

    size: tuple[int, int, int]
    spacing: np.ndarray
    origin: np.ndarray
    direction: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        """numpy array shape (nz, ny, nx)."""
        return (self.size[2], self.size[1], self.size[0])

    @property
    def matrix(self) -> np.ndarray:
        """3x3 index-to-physical linear map (direction @ diag(spacing))."""
        return self.direction * self.spacing[None, :]

    @property
    def axis_aligned_z(self) -> bool:
        """True when physical z is constant within each k-slice."""
        return bool(abs(self.direction[2, 0]) < 1e-9 and abs(self.direction[2, 1]) < 1e-9)

    def to_index(self, pts: np.ndarray) -> np.ndarray:
        """Continuous (i, j, k) indices of physical points ``(..., 3)``."""
        return ((pts - self.origin) @ self.direction) / self.spacing

    def to_physical(self, idx: np.ndarray) -> np.ndarray:
        """Physical points of continuous (i, j, k) indices ``(..., 3)``."""
        return idx @ self.matrix.T + self.origin

    def fine(self, nsub: int) -> "Grid":
        """The same grid with each slice split into ``nsub`` thinner sub-slices."""
        if nsub == 1:
            return self
        sp = self.spacing.copy()
        sp[2] /= nsub
        shift = -(nsub - 1) / (2.0 * nsub) * self.spacing[2]
        origin = self.origin + self.direction[:, 2] * shift
        return Grid((self.size[0], self.size[1], self.size[2] * nsub), sp, origin, self.direction.copy())

    def slice_coords(self, k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | float]:
        """Physical x, y, z of every voxel of slice k as (ny, nx) arrays (z scalar if constant)."""
        nx, ny = self.size[0], self.size[1]
        m = self.matrix
        i = np.arange(nx, dtype=np.float32)[None, :]
        j = np.arange(ny, dtype=np.float32)[:, None]
        base = self.origin + m[:, 2] * k
        x = (base[0] + m[0, 0] * i + m[0, 1] * j).astype(np.float32)
        y = (base[1] + m[1, 0] * i + m[1, 1] * j).astype(np.float32)
        if self.axis_aligned_z:
            z: np.ndarray | float = float(base[2])
        else:
            z = (base[2] + m[2, 0] * i + m[2, 1] * j).astype(np.float32)
        x = np.broadcast_to(x, (ny, nx))
        y = np.broadcast_to(y, (ny, nx))
        return x, y, z

    @property
    def hmin(self) -> float:
        return float(self.spacing.min())

    def box_coords(self, lo: np.ndarray, hi: np.ndarray, ref: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Physical x, y, z (broadcastable, zyx order) of the index box [lo, hi) (i, j, k),
        relative to ``ref`` if given (float32)."""
        m = self.matrix
        base = self.origin + m @ np.asarray(lo, dtype=float)
        if ref is not None:
            base = base - ref
        i = np.arange(hi[0] - lo[0], dtype=np.float32)[None, None, :]
        j = np.arange(hi[1] - lo[1], dtype=np.float32)[None, :, None]
        k = np.arange(hi[2] - lo[2], dtype=np.float32)[:, None, None]
        if self.axis_aligned_z and abs(m[0, 1]) < 1e-12 and abs(m[1, 0]) < 1e-12:
            return (np.float32(base[0]) + np.float32(m[0, 0]) * i,
                    np.float32(base[1]) + np.float32(m[1, 1]) * j,
                    np.float32(base[2]) + np.float32(m[2, 2]) * k)
        out = []
        for a in range(3):
            out.append(np.float32(base[a]) + np.float32(m[a, 0]) * i + np.float32(m[a, 1]) * j
                       + np.float32(m[a, 2]) * k)
        return out[0], out[1], out[2]

    def bbox(self, pmin: np.ndarray, pmax: np.ndarray, pts: np.ndarray | None = None):
        """Index box (lo, hi) covering the physical axis-aligned box [pmin, pmax], or None."""
        corners = np.array([[a, b, c] for a in (pmin[0], pmax[0]) for b in (pmin[1], pmax[1])
                            for c in (pmin[2], pmax[2])])
        idx = self.to_index(corners)
        lo = np.maximum(np.floor(idx.min(0)).astype(int), 0)
        hi = np.minimum(np.ceil(idx.max(0)).astype(int) + 1, np.array(self.size))
        if np.any(hi <= lo):
            return None
        return lo, hi


@dataclass
class Geometry:
    """Output grid (patient coordinates) + offset to scanner coordinates + sub-slicing."""

    grid: Grid
    offset: np.ndarray
    nsub: int
    orientation: str
    fov_padding: float | None
    extra: dict = field(default_factory=dict)


def _rotation(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle_rad) * k + (1 - np.cos(angle_rad)) * (k @ k)


def choose_direction(cfg: PhantomConfig, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """Pick the direction matrix (columns = axis directions) per ``cfg.orientation``."""
    o = cfg.orientation
    if not isinstance(o, str):
        d = np.asarray(o, dtype=float).reshape(3, 3)
        return "explicit", d
    u = rng.uniform()
    if o == "random":
        o = "axial-lps" if u < 0.4 else "ras" if u < 0.6 else "feet-first" if u < 0.8 else "oblique"
    if o in DIRECTIONS:
        return o, DIRECTIONS[o].copy()
    # oblique: gantry tilt about the left-right axis, sometimes with a small extra twist
    tilt = np.deg2rad(rng.uniform(5.0, 15.0)) * rng.choice([-1.0, 1.0])
    rot = _rotation(np.array([1.0, 0.0, 0.0]), tilt)
    if rng.uniform() < 0.5:
        axis = rng.normal(size=3)
        rot = _rotation(axis, np.deg2rad(rng.uniform(2.0, 6.0))) @ rot
    return "oblique", rot


def make_geometry(cfg: PhantomConfig, rng: np.random.Generator, body_width_mm: float,
                  z_top: float, z_bottom: float, z_lung_mid: float) -> Geometry:
    """Choose spacing, matrix, coverage, centre and direction for one case.

    ``z_top``/``z_bottom`` are the preferred superior/inferior coverage (patient mm);
    the in-plane pixel is chosen so that the field of view fits the patient like a
    clinical reconstruction (sometimes slightly truncating the arms/flanks).
    """
    name, direction = choose_direction(cfg, rng)
    if cfg.size == "full":
        matrix = (512, 512)
        pix = float(np.clip(body_width_mm * rng.uniform(1.02, 1.35) / 512, 0.6, 1.0))
        sz = float(rng.choice([1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 5.0],
                              p=[0.25, 0.15, 0.1, 0.15, 0.1, 0.1, 0.15]))
    else:
        n = int(rng.choice([224, 256, 256, 288]))
        matrix = (n, n)
        pix = float(np.clip(body_width_mm * rng.uniform(1.05, 1.3) / n, 1.2, 1.6))
        sz = float(rng.choice([2.0, 2.5, 3.0, 4.0, 5.0]))
    if cfg.matrix is not None:
        matrix = (int(cfg.matrix), int(cfg.matrix)) if np.isscalar(cfg.matrix) else tuple(int(v) for v in cfg.matrix)
    spacing = np.array([pix, pix, sz], dtype=float)
    if cfg.spacing is not None:
        spacing = np.asarray(cfg.spacing, dtype=float)
    if cfg.z_extent_mm is not None:
        zext = float(cfg.z_extent_mm)
        zc = z_lung_mid
    else:
        zext = float(np.clip(z_top - z_bottom, 280.0, 380.0))
        zc = 0.5 * (z_top + z_bottom)
    nz = max(int(round(zext / spacing[2])) + 1, 2)
    size = (int(matrix[0]), int(matrix[1]), nz)
    centre = np.array([rng.uniform(-12, 12), rng.uniform(-15, 25), zc])
    origin = centre - direction @ (spacing * (np.array(size) - 1) / 2.0)
    grid = Grid(size, spacing, origin, direction)
    offset = np.array([rng.uniform(-15, 15), rng.uniform(-60, 40), rng.uniform(-450, -50)])
    nsub = int(max(1, np.ceil(spacing[2] / 1.3 - 1e-6)))
    if cfg.fov_padding == "random":
        u = rng.uniform()
        pad = None if u < 0.3 else -1024.0 if u < 0.7 else -2000.0 if u < 0.8 else -3024.0
    else:
        pad = None if cfg.fov_padding is None else float(cfg.fov_padding)
    return Geometry(grid, offset, nsub, name, pad)
