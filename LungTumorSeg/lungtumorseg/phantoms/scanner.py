"""Scanner model: slice-sensitivity integration, point-spread function, correlated
quantum noise, reconstruction field-of-view circle and integer HU storage.

* Slice profile: thick slices are the mean of their thin sub-slices (rectangular
  slice sensitivity profile), plus a small Gaussian along z.
* PSF: isotropic Gaussian in-plane with FWHM 0.7-1.2 mm (standard soft kernels).
* Noise: white Gaussian noise low-pass filtered in-plane (sigma ~0.6-0.9 px), rescaled so
  its standard deviation equals the sampled sigma (8-25 HU, larger for larger patients);
  independent between slices, like a filtered-back-projection reconstruction.
* FOV: voxels outside the reconstruction circle get a padding value (-1024/-2000/-3024)
  as many scanners write; values are clipped to [-1024, 3071] and stored as int16.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .grid import Grid
from .hu import HU_MAX, HU_MIN


def collapse(fine: np.ndarray, nsub: int, how: str = "mean") -> np.ndarray:
    """Combine ``nsub`` consecutive sub-slices into one slice (zyx arrays)."""
    if nsub == 1:
        return fine
    nz = fine.shape[0] // nsub
    v = fine.reshape(nz, nsub, *fine.shape[1:])
    if how == "mean":
        return v.mean(1, dtype=np.float32)
    raise ValueError(how)


def collapse_labels(fine: np.ndarray, nsub: int, values: list[int]) -> np.ndarray:
    """Majority-style collapse of a label volume: a voxel gets value v if >= half of its
    sub-slices are v (values are disjoint, so at most one can win)."""
    if nsub == 1:
        return fine.copy()
    nz = fine.shape[0] // nsub
    v = fine.reshape(nz, nsub, *fine.shape[1:])
    out = np.zeros((nz, *fine.shape[1:]), dtype=fine.dtype)
    for val in values:
        cnt = (v == val).sum(1, dtype=np.uint8)
        out[2 * cnt >= nsub] = val
    return out


def sample_scanner(rng: np.random.Generator, noise_range, patient_width: float) -> dict:
    """Per-case scanner settings (drawn even when noise/blur are off, for determinism)."""
    lo, hi = (float(v) for v in noise_range)
    base = rng.uniform(lo, hi)
    sigma = float(np.clip(base * (patient_width / 330.0) ** 1.2, lo, hi))
    return {"psf_fwhm_mm": float(rng.uniform(0.7, 1.2)), "noise_sigma_hu": sigma,
            "noise_corr_px": float(rng.uniform(0.55, 0.9))}


def blur(img: np.ndarray, grid: Grid, fwhm_mm: float) -> np.ndarray:
    """Apply the in-plane PSF and a light z blur (sigma in voxels per axis)."""
    s = fwhm_mm / 2.3548
    sig = (0.35, s / grid.spacing[1], s / grid.spacing[0])
    return ndimage.gaussian_filter(img, sig, mode="nearest", truncate=3.0)


def noise_field(shape: tuple, sigma_hu: float, corr_px: float, rng: np.random.Generator) -> np.ndarray:
    """In-plane correlated Gaussian noise with standard deviation ``sigma_hu``."""
    w = rng.standard_normal(size=shape, dtype=np.float32)
    out = ndimage.gaussian_filter(w, (0, corr_px, corr_px), truncate=3.0)
    imp = np.zeros((1, 25, 25), dtype=np.float32)
    imp[0, 12, 12] = 1.0
    gain = float(np.sqrt((ndimage.gaussian_filter(imp, (0, corr_px, corr_px), truncate=3.0) ** 2).sum()))
    out *= sigma_hu / gain
    return out


def fov_mask(grid: Grid) -> np.ndarray:
    """(ny, nx) boolean mask of the reconstruction circle inscribed in the matrix."""
    nx, ny = grid.size[0], grid.size[1]
    x = (np.arange(nx) - (nx - 1) / 2.0) * grid.spacing[0]
    y = (np.arange(ny) - (ny - 1) / 2.0) * grid.spacing[1]
    r = min(nx * grid.spacing[0], ny * grid.spacing[1]) / 2.0
    return (x[None, :] ** 2 + y[:, None] ** 2) <= r * r


def finalize(img: np.ndarray, grid: Grid, settings: dict, noise: bool, do_blur: bool,
             pad: float | None, rng_noise: np.random.Generator) -> np.ndarray:
    """Blur, add noise, apply FOV padding, clip and convert to int16."""
    if do_blur:
        img = blur(img, grid, settings["psf_fwhm_mm"])
    if noise:
        img += noise_field(img.shape, settings["noise_sigma_hu"], settings["noise_corr_px"], rng_noise)
    np.clip(img, HU_MIN, HU_MAX, out=img)
    out = np.rint(img).astype(np.int16)
    if pad is not None:
        out[:, ~fov_mask(grid)] = int(pad)
    return out
