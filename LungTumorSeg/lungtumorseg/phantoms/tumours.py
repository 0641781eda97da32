"""Lung tumours: planning (count, size, kind, shape, zone, side, location), placement
inside the ground-truth lungs, and drawing with a signed-distance shape model.

Shapes: round (perturbed ellipsoid), lobulated (union of overlapping spheres),
spiculated (round core + thin tapering spikes). Kinds (Fleischner nomenclature, Hansell
2008): solid, part-solid (ground-glass halo + solid core), ground-glass. Vessels stay
visible through ground glass (max compositing); solid tissue replaces them. The label is
exactly the tumour (solid + ground-glass parts) clipped to the lung, so juxtapleural
tumours flatten against the chest wall and are never labelled outside the pleura.
"""

from __future__ import annotations

import numpy as np

from .config import PhantomConfig
from .draw import segment_distance
from .grid import Grid
from .patient import Patient

ZONES = ("lower", "middle", "upper")
_DIRS = np.array([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)
                  if (a, b, c) != (0, 0, 0)], dtype=float)
_DIRS /= np.linalg.norm(_DIRS, axis=1, keepdims=True)


def plan_tumours(rng: np.random.Generator, cfg: PhantomConfig) -> list[dict]:
    """Decide how many tumours and their attributes (cheap; no image needed)."""
    if cfg.n_tumours is not None:
        n = int(cfg.n_tumours)
    elif rng.uniform() < cfg.tumour_free_fraction:
        n = 0
    else:
        n = int(rng.integers(1, max(cfg.max_tumours, 1) + 1))
    lo, hi = (float(v) for v in cfg.tumour_diameter_mm)
    kind_p = np.asarray(cfg.tumour_kind_weights, dtype=float)
    kind_p = kind_p / kind_p.sum()
    plans = []
    for _ in range(n):
        kind = str(rng.choice(["solid", "part-solid", "ground-glass"], p=kind_p))
        med = 20.0 if kind == "solid" else 16.0
        d = float(np.clip(np.exp(rng.normal(np.log(med), 0.5)), lo, hi))
        shape = str(rng.choice(["round", "lobulated", "spiculated"], p=[0.35, 0.4, 0.25]))
        if kind == "ground-glass" and shape == "spiculated":
            shape = "round"
        plans.append({
            "kind": kind, "shape": shape, "diameter_mm": d,
            "zone": str(rng.choice(ZONES)),
            "side": "right" if rng.uniform() < 0.55 else "left",
            "location": str(rng.choice(["peripheral", "juxtapleural", "central"], p=[0.5, 0.3, 0.2])),
        })
    return plans


def _lookup(lung: np.ndarray, grid: Grid, pts: np.ndarray) -> np.ndarray:
    idx = np.rint(grid.to_index(pts)).astype(int)
    ok = np.all((idx >= 0) & (idx < np.array(grid.size)), axis=-1)
    idx = np.where(ok[..., None], idx, 0)
    return np.where(ok, lung[idx[..., 2], idx[..., 1], idx[..., 0]], 0)


def _find_centre(P: Patient, lung: np.ndarray, grid: Grid, plan: dict, R: float, zr: tuple,
                 placed: list[dict], rng: np.random.Generator, location: str):
    from .lungs import sample_lung_points

    side = 1 if plan["side"] == "right" else 2
    zlo, zhi = zr
    third = (zhi - zlo) / 3.0
    u = ZONES.index(plan["zone"])
    z0, z1 = zlo + (u + 0.1) * third, zlo + (u + 0.9) * third
    hil = P.hilum(side)
    for _ in range(3):
        c = sample_lung_points(lung, grid, side, 1500, rng)
        c = c[(c[:, 2] > z0) & (c[:, 2] < z1)]
        if len(c) == 0:
            continue
        dh = np.linalg.norm(c[:, :2] - hil[:2], axis=1)
        inner = (_lookup(lung, grid, c[:, None, :] + 0.45 * R * _DIRS[None]) == side).all(1)
        outer = _lookup(lung, grid, c[:, None, :] + (R + 2.0) * _DIRS[None]) != side
        fout = outer.mean(1)
        if location == "peripheral":
            far = (_lookup(lung, grid, c[:, None, :] + (R + 5.0) * _DIRS[None]) == side).all(1)
            ok = inner & (fout == 0) & far
        elif location == "juxtapleural":
            ok = inner & (fout >= 0.1) & (fout <= 0.45) & (dh > R + 40.0)
        else:
            ok = inner & (fout >= 0.04) & (fout <= 0.5) & (dh < R + 35.0)
        for k in np.flatnonzero(ok):
            if all(np.linalg.norm(c[k] - q["centre"]) > R + q["extent"] + 5.0 for q in placed):
                return c[k]
    return None


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))[None, :]


def shape_sdf(spec: dict, qx, qy, qz) -> np.ndarray:
    """Signed distance (mm, approx.) of local rotated coordinates to the tumour surface."""
    R = spec["R"]
    if spec["shape"] == "lobulated":
        sdf = None
        for c, r in spec["lobes"]:
            d = np.sqrt((qx - c[0]) ** 2 + (qy - c[1]) ** 2 + (qz - c[2]) ** 2) - r
            sdf = d if sdf is None else np.minimum(sdf, d)
        return sdf
    Rc = R * (0.8 if spec["shape"] == "spiculated" else 1.0)
    ax = spec["axes"] * Rc
    n = np.sqrt(qx * qx + qy * qy + qz * qz) + 1e-6
    rho = np.sqrt((qx / ax[0]) ** 2 + (qy / ax[1]) ** 2 + (qz / ax[2]) ** 2)
    bump = 1.0
    for v, amp in spec["bumps"]:
        ct = (qx * v[0] + qy * v[1] + qz * v[2]) / n
        bump = bump + amp * (1.5 * ct * ct - 0.5)
    sdf = (rho / bump - 1.0) * Rc
    if spec["shape"] == "spiculated":
        for p0, p1, rb in spec["spikes"]:
            d, t = segment_distance(qx, qy, qz, p0, p1)
            sdf = np.minimum(sdf, d - (rb + (0.3 - rb) * t))
    return sdf


def make_shape_spec(plan: dict, R: float, rng: np.random.Generator) -> dict:
    spec = {"R": R, "shape": plan["shape"], "rot": _random_rotation(rng),
            "axes": 1.0 + rng.uniform(-0.15, 0.08, 3),
            "bumps": [(v / np.linalg.norm(v), rng.uniform(-0.08, 0.08)) for v in rng.normal(size=(3, 3))]}
    extent = R * 1.1
    if plan["shape"] == "lobulated":
        lobes = [(np.zeros(3), 0.72 * R)]
        for _ in range(int(rng.integers(3, 7))):
            v = rng.normal(size=3)
            v /= np.linalg.norm(v)
            off = rng.uniform(0.28, 0.5) * R
            lobes.append((v * off, R - off * rng.uniform(0.95, 1.1)))
        spec["lobes"] = lobes
    if plan["shape"] == "spiculated":
        spikes = []
        Rc = 0.8 * R
        for _ in range(int(rng.integers(8, 21))):
            v = rng.normal(size=3)
            v /= np.linalg.norm(v)
            ln = rng.uniform(0.25, 0.8) * R + 2.0
            spikes.append((0.6 * Rc * v, (Rc + ln) * v, rng.uniform(0.8, 1.5)))
            extent = max(extent, Rc + ln)
        spec["spikes"] = spikes
    spec["extent"] = extent
    cf = {"solid": 1.0, "part-solid": rng.uniform(0.3, 0.6), "ground-glass": 0.0}[plan["kind"]]
    spec["core"] = cf
    spec["waves"] = [(rng.normal(size=3) * 2 * np.pi / rng.uniform(6, 20), rng.uniform(0, 6.3)) for _ in range(3)]
    spec["necrosis"] = float(rng.uniform(10, 30)) if (R > 16 and plan["kind"] == "solid" and rng.uniform() < 0.5) else 0.0
    return spec


def place_and_draw(P: Patient, img: np.ndarray, lung: np.ndarray, ids: np.ndarray, grid: Grid,
                   final: Grid, plans: list[dict], zr: tuple, rng: np.random.Generator) -> list[dict]:
    """Place planned tumours in the lungs, draw them into ``img``/``ids`` (fine grid)."""
    placed: list[dict] = []
    for plan in plans:
        R = plan["diameter_mm"] / 2.0
        R = max(R, 0.65 * float(final.spacing.max()))
        spec = make_shape_spec(plan, R, rng)
        loc = plan["location"]
        c = None
        for attempt in range(5):
            c = _find_centre(P, lung, grid, plan, R, zr, placed, rng, loc)
            if c is not None:
                break
            if attempt >= 1:
                loc = "peripheral"
                R *= 0.8
                spec = make_shape_spec(plan, R, rng)
        if c is None:
            continue
        if R < 2.0 * final.spacing[2]:  # keep small tumours on a slice centre
            ci = final.to_index(c)
            ci[2] = np.round(ci[2])
            c = final.to_physical(ci)
        tid = len(placed) + 1
        _draw(P, img, lung, ids, grid, c, spec, plan["kind"], tid)
        placed.append({**plan, "location": loc, "diameter_mm": 2.0 * R, "centre": c, "R": R,
                       "extent": spec["extent"], "id": tid})
    return placed


def local_coordinates(spec: dict, px, py, pz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A tumour's own rotated coordinates (mm) of points at offsets ``px, py, pz`` (mm, x/y/z)
    from its centre; the shape and texture of ``tumour_layers`` are defined in them."""
    Q = spec["rot"]
    qx = Q[0, 0] * px + Q[1, 0] * py + Q[2, 0] * pz
    qy = Q[0, 1] * px + Q[1, 1] * py + Q[2, 1] * pz
    qz = Q[0, 2] * px + Q[1, 2] * py + Q[2, 2] * pz
    return qx, qy, qz


def tumour_layers(spec: dict, kind: str, qx, qy, qz, h: float, ggo_hu: float,
                  solid_hu: float) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None,
                                            np.ndarray | None, np.ndarray | None]:
    """A tumour's signed distance and its two density layers at local rotated coordinates.

    Returns ``(sdf, ggo_fraction, ggo_value, core_fraction, core_value)``: the fractions are
    partial-volume coverages in [0, 1] (a ramp ``h`` mm wide); the ground-glass layer (absent
    for solid tumours) is composited by maximum, so vessels stay visible through it, and the
    solid core (absent for pure ground glass) replaces what lies beneath. Shared by the
    phantom engine and the synthetic-tumour insertion of training (``training.insertion``).
    """
    sdf = shape_sdf(spec, qx, qy, qz)
    tex = sum(np.sin(w[0] * qx + w[1] * qy + w[2] * qz + ph) for w, ph in spec["waves"])
    R = spec["R"]
    f_ggo = g = f_core = val = None
    if kind != "solid":
        g = ggo_hu + 35.0 * tex
        f_ggo = np.clip(0.5 - sdf / max(2.0, h), 0.0, 1.0)
    if spec["core"] > 0:
        core = sdf + (1.0 - spec["core"]) * R
        val = solid_hu + 5.0 * tex
        if spec["necrosis"]:
            rr = np.sqrt(qx * qx + qy * qy + qz * qz)
            val = val - spec["necrosis"] * np.clip(1.0 - rr / (0.55 * R), 0.0, 1.0)
        f_core = np.clip(0.5 - core / h, 0.0, 1.0)
    return sdf, f_ggo, g, f_core, val


def _draw(P: Patient, img, lung, ids, grid: Grid, c: np.ndarray, spec: dict, kind: str, tid: int) -> None:
    ext = spec["extent"] + 3.0
    box = grid.bbox(c - ext, c + ext)
    if box is None:
        return
    lo, hi = box
    x, y, z = grid.box_coords(lo, hi)
    qx, qy, qz = local_coordinates(spec, x - c[0], y - c[1], z - c[2])
    sl = (slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0]))
    inl = lung[sl] > 0
    sub = img[sl]
    h = float(grid.spacing.min())
    sdf, f_ggo, g, f_core, val = tumour_layers(spec, kind, qx, qy, qz, h, P.hu["ggo"], P.hu["nodule_solid"])
    if f_ggo is not None:
        sub += f_ggo * inl * np.maximum(g - sub, 0.0)
    if f_core is not None:
        sub += f_core * inl * (val - sub)
    lab = (sdf < 0) & inl
    isub = ids[sl]
    isub[lab & (isub == 0)] = tid
