"""Tubular mediastinal and neck structures drawn in 3D as tapered capsules.

Aorta (root, ascending, arch with its three branches, descending, abdominal), pulmonary
trunk and main pulmonary arteries to the hila, superior vena cava and brachiocephalic /
jugular veins, inferior vena cava, oesophagus, trachea with carina and main bronchi
(air lumen + wall) and the clavicles. Everything except the clavicles removes lung from
the ground-truth mask where it lies (mediastinal structures are not lung).
"""

from __future__ import annotations

import numpy as np

from .draw import draw_polyline
from .grid import Grid
from .patient import Patient


def airway_tree_roots(P: Patient) -> dict[int, np.ndarray]:
    """End points of the right (1) and left (2) main bronchi (where lobar airways start)."""
    s = P.s
    return {1: np.array([-40 * s * P.wr, 16 * s, -26 * s]), 2: np.array([46 * s * P.wr, 20 * s, -30 * s])}


def _pts(P: Patient, pts) -> np.ndarray:
    a = np.asarray(pts, dtype=float) * P.s
    a[:, 0] *= P.wr
    return a


def draw_mediastinum(P: Patient, img: np.ndarray, lung: np.ndarray, grid: Grid) -> None:
    """Draw all mediastinal tubes into ``img`` and clear them from ``lung`` (in place)."""
    hu = P.hu
    s = P.s
    yv = lambda z: float(P.prof("yv", z))  # noqa: E731
    rv = lambda z: float(P.prof("rv", z))  # noqa: E731
    zt = P.z_cavity_top + 140.0
    zb = min(P.z_dome) - 200.0 * s
    zb_s = zb / s
    d_desc = lambda z: yv(z) / s - rv(z) / s - 6  # noqa: E731  anterior-left of the spine
    # --- aorta
    aorta = _pts(P, [[-4, -10, -48], [-8, -22, -10], [-10, -24, 14], [-6, -18, 30], [6, 0, 38],
                     [18, 20, 30], [22, 30, 12], [22, d_desc(-20), -20], [18, d_desc(-90), -90],
                     [12, d_desc(-160), -160], [6, d_desc(zb) - 4, zb_s]])
    ra = np.array([15, 16, 15, 14, 13, 12, 12, 12, 11.5, 11, 10]) * s
    draw_polyline(img, grid, aorta, ra, hu["aorta"], clear=lung)
    # arch branches: brachiocephalic, left common carotid, left subclavian
    for pts, r in (([[-4, -14, 34], [-14, -12, 70], [-26, -8, 95], [-30, -6, zt / s]], 6.0),
                   ([[6, -6, 38], [16, -8, 70], [27, -8, zt / s]], 4.0),
                   ([[16, 10, 34], [28, 12, 80], [55, 12, 100], [95, 14, 104]], 5.0)):
        q = _pts(P, pts)
        draw_polyline(img, grid, q, [r * s] * len(q), hu["aorta"], clear=lung)
    # --- pulmonary trunk and arteries to the hila
    pa = _pts(P, [[14, -32, -48], [20, -20, -22], [22, -8, -8]])
    draw_polyline(img, grid, pa, [14 * s, 14 * s, 13 * s], hu["pulmonary"], clear=lung)
    h1, h2 = P.hilum(1), P.hilum(2)
    lpa = np.vstack([pa[-1], _pts(P, [[40, 6, -4]]), h2])
    draw_polyline(img, grid, lpa, [11 * s, 10.5 * s, 9 * s], hu["pulmonary"], clear=lung)
    rpa = np.vstack([pa[-1], _pts(P, [[-8, -2, -14], [-30, 2, -18]]), h1])
    draw_polyline(img, grid, rpa, [11 * s, 11 * s, 10 * s, 9 * s], hu["pulmonary"], clear=lung)
    # --- systemic veins: SVC + brachiocephalic/jugular veins, IVC + hepatic veins
    svc = _pts(P, [[-28, -20, 62], [-28, -18, 20], [-26, -14, -30]])
    draw_polyline(img, grid, svc, [9 * s, 10 * s, 10 * s], hu["systemic_vein"], clear=lung)
    for pts in ([[-28, -20, 62], [-36, -14, 95], [-34, -10, zt / s]],
                [[-28, -20, 62], [10, -26, 70], [45, -18, 85], [38, -12, zt / s]]):
        q = _pts(P, pts)
        draw_polyline(img, grid, q, [7 * s] * len(q), hu["systemic_vein"], clear=lung)
    zi = min(P.z_dome) / s
    ivc = _pts(P, [[-22, 20, zb_s], [-22, 16, zi - 10], [-18, 10, zi + 15], [-10, 0, -70]])
    draw_polyline(img, grid, ivc, [11 * s] * 4, hu["systemic_vein"], clear=lung)
    liver_v = hu["systemic_vein"] - (15.0 if not P.contrast else -10.0)
    for end in ([-90, -10, zi - 35], [-40, -45, zi - 30], [5, -50, zi - 25]):
        q = _pts(P, [[-20, 12, zi - 12], end])
        draw_polyline(img, grid, q, [5 * s, 2.5 * s], liver_v)
    # --- oesophagus (soft tissue, sometimes a little air)
    oes = _pts(P, [[4, yv(zt) / s - rv(zt) / s - 5, zt / s], [6, yv(40) / s - rv(40) / s - 6, 40],
                   [10, yv(-60) / s - rv(-60) / s - 6, -60], [30, -5, zi - 25]])
    draw_polyline(img, grid, oes, [8 * s] * 4, hu["muscle"], clear=lung)
    if P.extra.get("gas_level", 0.4) > 0.45:
        draw_polyline(img, grid, oes[:3], [2.0] * 3, -1000.0)
    # --- trachea, carina, main bronchi (wall then air lumen)
    tr = _pts(P, [[0, -14, zt / s], [0, -8, 60], [2, 6, 0]])
    r1, r2 = airway_tree_roots(P)[1], airway_tree_roots(P)[2]
    carina = tr[-1]
    right = np.vstack([carina, _pts(P, [[-22, 10, -12]]), r1])
    left = np.vstack([carina, _pts(P, [[24, 14, -14]]), r2])
    for pts, r in ((tr, 9.0 * s), (right, 7.0 * s), (left, 6.0 * s)):
        draw_polyline(img, grid, pts, [r + 2.0] * len(pts), hu["airway_wall"], clear=lung)
    for pts, r in ((tr, 9.0 * s), (right, 7.0 * s), (left, 6.0 * s)):
        draw_polyline(img, grid, pts, [r] * len(pts), -1000.0)
    # --- clavicles: S-shaped rods from the sternal notch to the acromion
    for sx in (-1.0, 1.0):
        q = _pts(P, [[sx * 14, -70, 62], [sx * 55, -78, 70], [sx * 100, -62, 80], [sx * 135, -20, 92]])
        draw_polyline(img, grid, q, [7 * s, 6 * s, 5.5 * s, 6 * s], hu["cortical"] * 0.7)
        draw_polyline(img, grid, q, [4 * s, 3.5 * s, 3 * s, 3.5 * s], hu["cancellous"])
