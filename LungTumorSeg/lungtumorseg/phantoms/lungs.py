"""Intrapulmonary vessel and airway trees.

Trees are grown by recursive space partitioning of attractor points sampled uniformly
in each ground-truth lung: every node runs from its parent's end half-way to the
centroid of its points, then splits them along their principal axis (at a random,
asymmetric fraction). Radius follows a Murray-like law r = r0 (n/N)^(1/2.5) in the
number n of downstream points, so calibres taper from ~12 mm at the hilum to ~1 mm
near the pleura and the tree fills the lung like real pulmonary vasculature.
Arteries start at the hila, veins at the left atrium; bronchi (air lumen, thin wall)
run beside the arteries down to ~2 mm calibre. Drawing is restricted to the lungs.
"""

from __future__ import annotations

import numpy as np

from .draw import draw_tube, splat_segments
from .grid import Grid
from .mediastinum import airway_tree_roots
from .patient import Patient

Segment = tuple[np.ndarray, np.ndarray, float]


def sample_lung_points(lung: np.ndarray, grid: Grid, side: int, n: int,
                       rng: np.random.Generator) -> np.ndarray:
    """``n`` uniformly distributed physical points inside lung ``side`` (1 or 2)."""
    flat = lung.reshape(-1)
    got: list[np.ndarray] = []
    total = 0
    for _ in range(200):
        cand = rng.integers(0, flat.size, size=max(4 * n, 2000))
        cand = cand[flat[cand] == side]
        got.append(cand)
        total += cand.size
        if total >= n:
            break
    idx = np.concatenate(got)[:n]
    if idx.size == 0:
        return np.zeros((0, 3))
    k, j, i = np.unravel_index(idx, lung.shape)
    ijk = np.stack([i, j, k], 1).astype(float) + rng.uniform(-0.5, 0.5, (idx.size, 3))
    return grid.to_physical(ijk)


def grow_tree(root: np.ndarray, pts: np.ndarray, r0: float, rng: np.random.Generator,
              r_min: float = 0.45) -> list[Segment]:
    """Segments (start, end, radius) of a space-filling tree from ``root`` over ``pts``."""
    n_all = len(pts)
    segs: list[Segment] = []
    if n_all == 0:
        return segs
    stack = [(root, np.arange(n_all))]
    while stack:
        start, ids = stack.pop()
        n = ids.size
        r = max(r0 * (n / n_all) ** (1 / 2.5), r_min)
        sub = pts[ids]
        if n == 1:
            segs.append((start, sub[0], r))
            continue
        c = sub.mean(0)
        step = c - start
        dist = float(np.linalg.norm(step))
        end = start + (0.5 if dist > 4 else 1.0) * step
        segs.append((start, end, r))
        if n == 2:
            axis = sub[1] - sub[0]
        else:
            dev = sub - c
            axis = np.linalg.eigh(dev.T @ dev)[1][:, -1]
        order = np.argsort((sub - c) @ axis)
        m = int(np.clip(round(n * rng.uniform(0.3, 0.7)), 1, n - 1))
        stack.append((end, ids[order[:m]]))
        stack.append((end, ids[order[m:]]))
    return segs


def draw_lung_trees(P: Patient, img: np.ndarray, lung: np.ndarray, grid: Grid,
                    rng: np.random.Generator, density: float = 1.0) -> dict:
    """Grow and draw arteries, veins and bronchi in both lungs; returns summary counts."""
    hu = P.hu
    s = P.s
    n_pts = int(2000 * density)
    info = {"segments": 0}
    # thin twigs are splatted as partial-volume line densities (fast), thicker ones drawn
    r_cap = max(0.75, 0.5 * float(grid.spacing[:2].min()))
    for side in (1, 2):
        sx = -1.0 if side == 1 else 1.0
        roots = {
            "artery": P.hilum(side),
            "vein": np.array([sx * 30 * s * P.wr, 22 * s, -62 * s]),
        }
        trees: dict[str, list[Segment]] = {}
        for kind, root in roots.items():
            pts = sample_lung_points(lung, grid, side, n_pts, rng)
            trees[kind] = grow_tree(root, pts, (6.5 if kind == "artery" else 6.0) * s, rng)
            info["segments"] += len(trees[kind])
        art_segs = trees["artery"]
        # bronchi alongside the arteries (drawn before the vessels, which may cross them)
        off_dir = rng.normal(size=3)
        off_dir /= np.linalg.norm(off_dir)
        broot = airway_tree_roots(P)[side]
        for p0, p1, r in art_segs:
            if r < 1.0:
                continue
            d = p1 - p0
            ln = np.linalg.norm(d)
            if ln < 1e-3:
                continue
            d /= ln
            o = off_dir - (off_dir @ d) * d
            no = np.linalg.norm(o)
            if no < 1e-3:
                continue
            o = o / no * (1.9 * r + 0.6)
            a0, a1 = p0 + o, p1 + o
            if np.linalg.norm(p0 - P.hilum(side)) < 1e-6:
                a0 = broot
            rw = 0.9 * r
            wall = max(0.5, 0.2 * rw)
            draw_tube(img, grid, a0, a1, rw + wall, rw + wall, hu["airway_wall"], allow=lung, mode="max")
            draw_tube(img, grid, a0, a1, rw, rw, -1000.0, allow=lung)
        for kind, segs in trees.items():
            value = hu["pulmonary"] if kind == "artery" else hu["pulmonary"] * 0.85 + 0.15 * hu["blood"]
            for p0, p1, r in segs:
                if r >= r_cap:
                    draw_tube(img, grid, p0, p1, r, r, value, allow=lung)
            splat_segments(img, grid, [sg for sg in segs if sg[2] < r_cap], value, allow=lung)
    return info
