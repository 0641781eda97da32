"""Slice-wise rendering of the body: table, skin/fat/muscle, rib cage, spine, sternum,
scapulae, mediastinal fat and heart, lungs (ground-truth mask + parenchyma), diaphragm
and the upper-abdominal organs (liver, stomach with supine air-fluid level, spleen,
kidneys).

Each function evaluates analytic shapes on the physical coordinates of one output
(sub-)slice, so any direction (flipped, feet-first, oblique) renders exactly. Tubular
mediastinal structures are added afterwards in 3D by ``mediastinum.py``.
"""

from __future__ import annotations

import numpy as np

from .draw import ellipsoid_field
from .grid import Grid
from .hu import AIR
from .patient import Patient


def _sel(cond, a, b):
    return np.where(cond, a, b)


def diaphragm_z(P: Patient, x, y):
    """Height of the diaphragm surface (two domes, right higher, deep posterior recesses)."""
    ac = 140.0 * P.s * P.wr
    b = 80.0 * P.s * P.dr
    out = None
    for side, (xc, ztop) in enumerate(((-0.45 * ac, P.z_dome[0]), (0.5 * ac, P.z_dome[1]))):
        q2 = ((x - xc) / (0.55 * ac)) ** 2 + ((y - 5.0) / b) ** 2
        drop = 55.0 * P.s * (1.0 + 0.6 * np.clip(y / b, 0.0, 1.0))
        zd = ztop - drop * q2
        out = zd if out is None else np.maximum(out, zd)
    return out


def render_slice(P: Patient, x: np.ndarray, y: np.ndarray, z, table: bool):
    """HU (float32) and lung label (uint8: 1 right, 2 left) of one slice."""
    hu = P.hu
    sh = x.shape
    img = np.full(sh, AIR, dtype=np.float32)
    lung = np.zeros(sh, dtype=np.uint8)
    # --- CT table: curved carbon-fibre shell with foam core, under the back
    a, ba, bp = P.body_axes(z)
    if table:
        ytop = P.extra["table_y"] + P.table_curv * x * x
        t = y - ytop
        tab = (t > 0) & (t < 45) & (np.abs(x) < 230)
        img[tab] = hu["table_foam"]
        img[tab & ((t < 3) | (t > 42))] = hu["table_shell"]
    # --- body outline (superellipse, flatter posteriorly where the patient lies)
    yc = P.yc
    dy = y - yc
    by = _sel(dy < 0, ba, bp)
    qx, qy = (x / a) ** 2, (dy / by) ** 2
    rb2 = qx + qy
    rb = np.sqrt(rb2)
    post = dy > 0
    rb[post] = 0.5 * (rb[post] + np.sqrt(np.sqrt(qx[post] ** 2 + qy[post] ** 2)))
    body = rb < 1.0
    if table:
        body &= y < P.extra["table_y"] - 1.0  # the back flattens on the table top
    br = P.extra["breast"]
    if br > 0:
        cz = -62.0 * P.s
        for sx in (-1.0, 1.0):
            e = ((x - sx * 0.42 * a) / (0.24 * a + 0.4 * br)) ** 2 + ((y - (yc - ba + 0.5 * br)) / (1.1 * br)) ** 2 \
                + ((z - cz) / (38 * P.s + 0.6 * br)) ** 2
            body |= (e < 1.0) & (dy < 0)
    img[body] = hu["fat"]
    rmin = np.minimum(a, by)
    img[body & ((1.0 - rb) * rmin < 2.0)] = hu["skin"]
    # --- muscle layer: inside the subcutaneous fat
    neck = np.clip((np.asarray(z) / P.s - 110.0) / 40.0, 0.0, 1.0)
    tf = P.fat * (1.0 - 0.6 * neck) + 2.0
    am, bam, bpm = a - tf, ba - 1.2 * tf, bp - 0.5 * tf - 2.0
    rm = np.sqrt((x / am) ** 2 + (dy / _sel(dy < 0, bam, bpm)) ** 2)
    img[(rm < 1.0) & body] = hu["muscle"]
    # thyroid (iodine-rich, bright even unenhanced), in the lower neck
    for sx in (-1.0, 1.0) if _near(z, 150 * P.s, 23 * P.s) else ():
        e = ellipsoid_field(x, y, z, (sx * 19 * P.s, -12 * P.s, 150 * P.s), (9 * P.s, 12 * P.s, 22 * P.s))
        img[e < 1.0] = 90.0 + hu["muscle"] * 0.5
    # --- thoracic / abdominal cavity (inner surface of the rib cage)
    ac, bca, bcp = P.prof("ac", z), P.prof("bca", z), P.prof("bcp", z)
    cb = _sel(dy < 0, bca, bcp)
    rc = np.sqrt((x / ac) ** 2 + (dy / cb) ** 2) + 1e-6
    rho = np.sqrt(x * x + dy * dy)
    u = rho * (1.0 - 1.0 / rc)  # radial mm outside (+) / inside (-) the rib cage
    incav = np.asarray(z) < P.z_cavity_top
    cav = (u < 0) & incav
    img[cav] = hu["fat"]
    img[cav & (u > -1.5)] = hu["muscle"]  # pleura / innermost intercostals
    _ribs_and_wall(P, img, x, y, z, u, rho, dy, incav, body)
    # --- diaphragm and abdomen
    zd = diaphragm_z(P, x, y)
    above = z > zd
    _abdomen(P, img, x, y, z, zd, cav & ~above)
    # --- heart, pericardial fat, cardiophrenic fat pad
    H = P.heart
    hz, hs = float(H["centre"][2]), float(H["semi"][2])
    peri = pad = np.zeros(sh, dtype=bool)
    if _near(z, hz - 40.0, hs + 45.0):
        eh = ellipsoid_field(x, y, z, H["centre"], H["semi"], H["angle"])
        exy = ellipsoid_field(x, y, hz, H["centre"], H["semi"], H["angle"])
        heart = cav & above & (eh < 1.0)
        peri = cav & above & (eh < 1.0 + 5.0 / H["semi"][1])
        pad = cav & above & (exy < 0.95) & (z < hz)
        img[peri | pad] = hu["fat"]
        img[heart] = hu["myocardium"]
        img[heart & (eh < 0.72)] = hu["heart_blood"]
    # --- mediastinal band and lungs
    hw = P.prof("hw", z)
    hw = _sel(dy < -0.45 * bca, 0.45 * hw, hw)
    band = np.abs(x) < hw
    xa = 46.0 * P.s * P.wr
    open_r = 80.0 * P.s
    # apices: paraboloid caps that open downwards (no effect a few cm below the apex)
    zap = np.where(x < 0, P.z_apex[0], P.z_apex[1])
    apex = (np.abs(x) - xa) ** 2 + ((y - 12) * 1.2) ** 2 < open_r ** 2 * np.maximum(zap - z, 0) / 55.0
    lm = cav & (u < -1.5) & (z > zd + 1.0) & apex & ~band & ~peri & ~pad
    if lm.any():
        idx = np.nonzero(lm)
        lx, ly = x[idx], y[idx]
        lz = z[idx] if np.ndim(z) else z
        w = P.lung_waves
        tex = sum(wv[4] * np.sin(wv[0] * lx + wv[1] * ly + wv[2] * lz + wv[3]) for wv in w)
        b0 = bca[idx] if np.ndim(bca) else bca
        b1 = bcp[idx] if np.ndim(bcp) else bcp
        grad = (np.clip((ly - (yc - b0)) / (b0 + b1), 0, 1) - 0.5) * hu["lung_gradient"]
        img[idx] = hu["lung"] + grad + tex
        lung[idx] = np.where(lx < 0, 1, 2).astype(np.uint8)
    _spine(P, img, x, y, z)
    return img, lung


def _ribs_and_wall(P: Patient, img, x, y, z, u, rho, dy, incav, body) -> None:
    """Ribs (cortex + marrow, costal cartilage anteriorly), sternum and scapulae."""
    hu = P.hu
    ring = body & incav & (u > -0.5) & (u < 10.0) & (rho > 1.0)
    if np.any(ring):
        idx = np.nonzero(ring)
        uu = u[idx]
        cosp = dy[idx] / rho[idx]  # 1 posterior, -1 anterior
        g = 0.5 * (1.0 - cosp)
        xs = x[idx]
        zz = z[idx] if np.ndim(z) else z
        side = (xs > 0).astype(int)
        zr = P.rib_z[side]  # (n, 12)
        vv = zz if np.ndim(zz) == 0 else zz[:, None]
        v = vv - (zr - P.rib_drop[None, :] * g[:, None])
        e = ((uu[:, None] - 5.0) / 4.4) ** 2 + (v / (6.0 * P.s)) ** 2
        n = np.arange(12)
        end_bone = np.cos(np.where(n < 10, 2.35, 1.6 + 0.15 * (n - 10)))  # cos of end angle
        end_cart = np.cos(np.where(n < 7, 2.95, np.where(n < 10, 2.75, 0.0)))
        inrib = (e < 1.0) & (cosp[:, None] < np.cos(0.25))
        bone = inrib & (cosp[:, None] >= end_bone[None, :])
        cart = inrib & (cosp[:, None] < end_bone[None, :]) & (cosp[:, None] >= end_cart[None, :])
        cort = bone & (e > 0.5)
        vals = img[idx]
        vals[cart.any(1)] = hu["cartilage"]
        vals[bone.any(1)] = hu["cancellous"]
        vals[cort.any(1)] = hu["cortical"]
        img[idx] = vals
    # sternum: manubrium / body / xiphoid on the anterior midline
    zs = np.asarray(z) / P.s
    w = np.where(zs > 20, 26.0, np.where(zs > -120, 15.0, 8.0)) * P.s
    ts = np.where(zs > 20, 14.0, 10.0)
    st = body & (dy < 0) & (np.abs(x) < w) & (u > -0.5) & (u < ts) & (zs < 60) & (zs > -150)
    if np.any(st):
        img[st] = hu["cancellous"]
        edge = st & ((u < 1.2) | (u > ts - 1.5) | (np.abs(x) > w - 1.5))
        img[edge] = hu["cortical"] * 0.8
    # scapulae: thin curved plates posterolaterally outside the ribs
    scz = (zs < 105) & (zs > -45)
    if np.any(scz):
        cosp = dy / np.maximum(rho, 1e-3)
        pl = body & scz & (u > 16) & (u < 20) & (cosp < np.cos(0.5)) & (cosp > np.cos(1.3))
        img[pl] = hu["cortical"] * 0.6


def _abdomen(P: Patient, img, x, y, z, zd, abd) -> None:
    """Diaphragm muscle, liver, stomach (gas anteriorly in supine), spleen, kidneys."""
    if not np.any(abd):
        return
    hu = P.hu
    s = P.s
    img[abd] = hu["fat"] * 0.6 + 0.4 * hu["muscle"]  # mesenteric fat / bowel mix
    depth = zd - z
    img[abd & (depth < 5.0)] = hu["muscle"]
    core = abd & (depth >= 5.0)
    xlim = 22.0 * s - 0.45 * y + 0.5 * (z - P.z_dome[0])
    liver = core & (x < xlim) & (z > P.z_dome[0] - 170 * s)
    img[liver] = hu["liver"]
    zs = P.z_dome[1] - 48 * s
    es = 2.0 if not _near(z, zs, 52 * s) else ellipsoid_field(x, y, z, (55 * s, -18 * s, P.z_dome[1] - 48 * s), (46 * s, 40 * s, 50 * s), 0.5)
    stom = core & (es < 1.0)
    img[stom] = hu["muscle"]
    lum = stom & (es < 0.88)
    img[lum] = hu["stomach"]
    gas_y = -18 * s - 40 * s * 0.88 * (1 - 2 * P.extra["gas_level"])
    img[lum & (y < gas_y)] = AIR
    esp = 2.0 if not _near(z, P.z_dome[1] - 55 * s, 57 * s) else ellipsoid_field(x, y, z, (92 * s * P.wr, 48 * s, P.z_dome[1] - 55 * s), (26 * s, 48 * s, 55 * s), 0.6)
    img[core & (esp < 1.0)] = hu["spleen"]
    for sx, zk in ((-1.0, P.z_dome[0] - 150 * s), (1.0, P.z_dome[1] - 135 * s)):
        if not _near(z, zk, 70 * s):
            continue
        ek = ellipsoid_field(x, y, z, (sx * 62 * s, 58 * s, zk), (28 * s, 30 * s, 52 * s), sx * 0.4)
        img[core & (ek < 1.25)] = hu["fat"]
        img[core & (ek < 1.0)] = hu["kidney"]


def _spine(P: Patient, img, x, y, z) -> None:
    """Vertebral bodies (cortex, marrow, discs), canal with cord, posterior elements."""
    hu = P.hu
    s = P.s
    yv0 = P.prof("yv", z)
    win = (np.abs(x) < 45.0 * s) & (np.abs(y - yv0 - 20.0 * s) < 60.0 * s)
    idx = np.nonzero(win)
    if idx[0].size == 0:
        return
    x, y = x[idx], y[idx]
    if np.ndim(z):
        z = z[idx]
    yv, rv = P.prof("yv", z), P.prof("rv", z)
    ph = np.mod(z - P.vert_phase, P.vert_period)
    disc = np.broadcast_to(ph < 5.0 * s, x.shape)
    post = np.broadcast_to((ph > 6.0 * s) & (ph < 20.0 * s), x.shape)
    vals = img[idx]
    r = np.sqrt(x * x + (y - yv) ** 2)
    vb = r < rv
    vals[vb & disc] = hu["disc"]
    vals[vb & ~disc] = hu["cancellous"]
    vals[vb & ~disc & (r > rv - 1.5)] = hu["cortical"]
    yc = yv + rv + 8.0 * s
    rc = np.sqrt(x * x + (y - yc) ** 2)
    arch = (rc > 7.5 * s) & (rc < 12.5 * s) & (y > yc - 9.0 * s)
    spin = (np.abs(x) < 4.0) & (y > yc) & (y < yc + 32.0 * s)
    trans = (np.abs(y - yc + 2) < 5.0) & (np.abs(x) < 27.0 * s) & (np.abs(x) > 6)
    vals[(arch | spin | trans) & post] = hu["cortical"] * 0.55
    vals[rc < 7.5 * s] = hu["csf"]
    img[idx] = vals


def _near(z, zc: float, half: float) -> bool:
    """Does slice z (scalar or array) come within ``half`` of height zc?"""
    if np.ndim(z):
        return bool(z.min() < zc + half and z.max() > zc - half)
    return abs(z - zc) < half


def render_background(P: Patient, grid: Grid, table: bool) -> tuple[np.ndarray, np.ndarray]:
    """Render every (sub-)slice of ``grid``: returns HU float32 and lung label uint8 (zyx)."""
    img = np.empty(grid.shape, dtype=np.float32)
    lung = np.empty(grid.shape, dtype=np.uint8)
    for k in range(grid.shape[0]):
        x, y, z = grid.slice_coords(k)
        img[k], lung[k] = render_slice(P, x, y, z, table)
    return img, lung
