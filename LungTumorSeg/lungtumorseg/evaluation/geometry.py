"""Where array voxels are in patient space (LPS mm): just enough geometry for evaluation.

Evaluation works on numpy arrays (``sitk.GetArrayFromImage`` order ``(k, j, i)``); zones and
lesion positions need the physical body-axis coordinate of voxels, which depends on the
image's origin, spacing and direction. ``Grid`` carries those three and does the mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class Grid:
    """Geometry of an image in SimpleITK conventions (spacing/origin in (i, j, k) / LPS)."""

    spacing_xyz: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

    @classmethod
    def of(
        cls,
        spacing_xyz: Sequence[float],
        origin: Optional[Sequence[float]] = None,
        direction: Optional[Sequence[float]] = None,
    ) -> "Grid":
        """A grid from possibly-missing origin/direction (zero origin, identity direction)."""
        return cls(
            tuple(float(v) for v in spacing_xyz),  # type: ignore[arg-type]
            tuple(float(v) for v in origin) if origin is not None else (0.0, 0.0, 0.0),  # type: ignore[arg-type]
            tuple(float(v) for v in direction) if direction is not None else cls.direction,
        )

    @classmethod
    def of_image(cls, image) -> "Grid":  # noqa: ANN001 (SimpleITK image, imported lazily)
        return cls.of(image.GetSpacing(), image.GetOrigin(), image.GetDirection())

    @property
    def index_to_lps(self) -> np.ndarray:
        """3x3 matrix whose columns are the physical step (mm) of one voxel along i, j, k."""
        return np.asarray(self.direction, dtype=float).reshape(3, 3) * np.asarray(self.spacing_xyz)

    def kji_to_lps(self, kji: np.ndarray) -> np.ndarray:
        """Physical LPS positions (mm) of ``(k, j, i)`` indices (rows), fractional allowed."""
        ijk = np.asarray(kji, dtype=float).reshape(-1, 3)[:, ::-1]
        return np.asarray(self.origin) + ijk @ self.index_to_lps.T

    def z_of_slices(self, shape: tuple[int, int, int]) -> "SliceZ":
        """Per-axis contributions to the physical z of every voxel (broadcastable)."""
        m = self.index_to_lps[2]  # dz per step in i, j, k
        nk, nj, ni = shape
        return SliceZ(
            self.origin[2] + m[2] * np.arange(nk)[:, None, None],
            m[1] * np.arange(nj)[None, :, None],
            m[0] * np.arange(ni)[None, None, :],
        )


@dataclass(frozen=True)
class SliceZ:
    """z(k, j, i) = k_part[k] + j_part[j] + i_part[i], kept separable to save memory."""

    k_part: np.ndarray
    j_part: np.ndarray
    i_part: np.ndarray

    def of_slice(self, k: int) -> np.ndarray:
        """Physical z (mm) of every voxel of array slice ``k`` (2D, (j, i))."""
        return (self.k_part[k, 0, 0] + self.j_part[0] + self.i_part[0]).astype(np.float64)
