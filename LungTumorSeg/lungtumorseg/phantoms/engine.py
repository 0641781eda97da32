"""``make_phantom``: orchestrates patient sampling, geometry, rendering, tumours and the
scanner model into one deterministic synthetic chest CT case with ground truth.

Determinism: every stochastic stage has its own ``numpy.random.Generator`` spawned from
``SeedSequence(seed)``, so turning noise or blur off changes nothing else, and the same
seed and config always give bitwise-identical arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from .anatomy import render_background
from .config import PhantomConfig
from .grid import Geometry, Grid, make_geometry
from .lungs import draw_lung_trees
from .mediastinum import draw_mediastinum
from .patient import Patient, sample_patient
from .scanner import collapse, collapse_labels, finalize, fov_mask, sample_scanner
from .tumours import ZONES, place_and_draw, plan_tumours


@dataclass
class PhantomCase:
    """One simulated case: CT image (int16 HU), tumour label, lung label and metadata."""

    image: sitk.Image
    label: sitk.Image
    lungs: sitk.Image
    meta: dict


def _streams(seed: int) -> dict[str, np.random.Generator]:
    names = ("patient", "grid", "vessels", "plan", "place", "scanner", "noise")
    kids = np.random.SeedSequence(int(seed)).spawn(len(names))
    return {n: np.random.default_rng(k) for n, k in zip(names, kids)}


def plan_case(seed: int, config: PhantomConfig | None = None) -> list[dict]:
    """The tumour plan of a case (count and attributes) without rendering anything."""
    cfg = config or PhantomConfig()
    return plan_tumours(_streams(seed)["plan"], cfg)


def _to_sitk(arr: np.ndarray, grid: Grid, offset: np.ndarray) -> sitk.Image:
    im = sitk.GetImageFromArray(arr)
    im.SetSpacing([float(v) for v in grid.spacing])
    im.SetOrigin([float(v) for v in grid.origin + offset])
    im.SetDirection([float(v) for v in grid.direction.reshape(-1)])
    return im


def _z_extent(mask: np.ndarray, grid: Grid) -> tuple[float, float]:
    """Physical (patient) z range of a mask (on a 2x in-plane subsample)."""
    k, j, i = np.nonzero(mask[:, ::2, ::2])
    if k.size == 0:
        return (0.0, 0.0)
    pts = grid.to_physical(np.stack([2 * i, 2 * j, k], 1).astype(float))
    return float(pts[:, 2].min()), float(pts[:, 2].max())


def _clean_ids(ids: np.ndarray, n: int) -> None:
    """Keep only the largest connected piece of each tumour (drops cut-off spike tips)."""
    for t in range(1, n + 1):
        sl = ndimage.find_objects((ids == t).astype(np.uint8))
        if not sl or sl[0] is None:
            continue
        sub = ids[sl[0]]
        lab, nl = ndimage.label(sub == t)
        if nl > 1:
            sizes = np.bincount(lab.ravel())[1:]
            sub[(lab > 0) & (lab != 1 + int(np.argmax(sizes)))] = 0


def make_phantom(seed: int, config: PhantomConfig | None = None) -> PhantomCase:
    """Simulate one chest CT with ground-truth tumour and lung masks (deterministic)."""
    cfg = config or PhantomConfig()
    cfg.validate()
    rng = _streams(seed)
    P: Patient = sample_patient(rng["patient"], cfg.contrast)
    plans = plan_tumours(rng["plan"], cfg)
    zl, zh = P.lung_z_range
    g = rng["grid"]
    z_top, z_bottom = zh + g.uniform(15, 55), zl - g.uniform(5, 40)
    geom: Geometry = make_geometry(cfg, g, P.width(), z_top, z_bottom, 0.5 * (zl + zh))
    P.extra["table_y"] = float(P.yc + P.body_axes(-40.0 * P.s)[2] - 0.5 * P.table_gap)
    final, nsub = geom.grid, geom.nsub
    fine = final.fine(nsub)
    img, lung = render_background(P, fine, cfg.table)
    draw_mediastinum(P, img, lung, fine)
    draw_lung_trees(P, img, lung, fine, rng["vessels"], cfg.vessel_density)
    ids = np.zeros(fine.shape, dtype=np.uint8)
    placed = place_and_draw(P, img, lung, ids, fine, final, plans, _z_extent(lung > 0, fine),
                            rng["place"]) if plans else []
    img = collapse(img, nsub)
    lungs = collapse_labels(lung, nsub, [1, 2])
    del lung
    ids = collapse_labels(ids, nsub, [t["id"] for t in placed])
    ids[lungs == 0] = 0
    fov = fov_mask(final) if geom.fov_padding is not None else None
    if fov is not None:
        ids[:, ~fov] = 0
        lungs[:, ~fov] = 0
    _clean_ids(ids, len(placed))
    settings = sample_scanner(rng["scanner"], cfg.noise_sigma_hu, P.width())
    out = finalize(img, final, settings, cfg.noise, cfg.blur, geom.fov_padding, rng["noise"])
    del img
    label = (ids > 0).astype(np.uint8)
    meta = _meta(seed, cfg, P, geom, settings, placed, ids, lungs)
    off = geom.offset
    return PhantomCase(_to_sitk(out, final, off), _to_sitk(label, final, off),
                       _to_sitk(lungs, final, off), meta)


def _meta(seed: int, cfg: PhantomConfig, P: Patient, geom: Geometry, settings: dict,
          placed: list[dict], ids: np.ndarray, lungs: np.ndarray) -> dict:
    grid, off = geom.grid, geom.offset
    vox = float(np.prod(grid.spacing))
    zlo, zhi = _z_extent(lungs > 0, grid)
    tumours = []
    for t in placed:
        vox_idx = np.argwhere(ids == t["id"])  # (k, j, i)
        if vox_idx.size == 0:
            continue
        c = np.asarray(t["centre"], dtype=float)
        ci = np.rint(grid.to_index(c)).astype(int)
        inside = np.all((ci >= 0) & (ci < np.array(grid.size))) and ids[ci[2], ci[1], ci[0]] == t["id"]
        if not inside:
            pts = grid.to_physical(vox_idx[:, ::-1].astype(float))
            c = pts[np.argmin(np.linalg.norm(pts - c, axis=1))]
        frac = (c[2] - zlo) / max(zhi - zlo, 1e-6)
        zone = ZONES[int(np.clip(frac * 3.0, 0, 2.999))]
        tumours.append({
            "id": len(tumours) + 1,
            "centre_lps_mm": [round(float(v), 3) for v in c + off],
            "diameter_mm": round(float(t["diameter_mm"]), 2),
            "volume_mm3": round(float(vox_idx.shape[0] * vox), 3),
            "n_voxels": int(vox_idx.shape[0]),
            "kind": t["kind"], "shape": t["shape"], "location": t["location"],
            "zone": zone, "side": t["side"],
        })
    pw = P.width()
    return {
        "seed": int(seed),
        "generator": "lungtumorseg.phantoms",
        "config": cfg.to_dict(),
        "size": [int(v) for v in grid.size],
        "spacing": [float(v) for v in grid.spacing],
        "origin": [float(v) for v in grid.origin + off],
        "direction": [float(v) for v in grid.direction.reshape(-1)],
        "orientation": geom.orientation,
        "slice_thickness_mm": float(grid.spacing[2]),
        "patient": {"size_factor": round(P.s, 4), "width_mm": round(pw, 1),
                    "depth_mm": round(float(sum(P.body_axes(-60 * P.s)[1:])), 1),
                    "subcutaneous_fat_mm": round(P.fat, 1), "sex": "F" if P.female else "M",
                    "contrast": bool(P.contrast)},
        "scanner": {**{k: round(v, 4) for k, v in settings.items()},
                    "noise": bool(cfg.noise), "blur": bool(cfg.blur),
                    "fov_padding_hu": geom.fov_padding},
        "lungs_z_extent_lps_mm": [zlo + float(off[2]), zhi + float(off[2])],
        "n_tumours": len(tumours),
        "tumours": tumours,
    }
