"""Classical lung mask on the canonical grid: no extra network.

Steps: air-like voxels (HU below a threshold) → keep the air that is enclosed in its axial
slice or lies inside the convex hull of the body's cross-section (drops the air outside the
body, the scanner's field-of-view padding, the gap to the table, but keeps a lung that the
field of view cuts off at the side, which is open to the image border) → remove the trachea
and main bronchi grown from the topmost air tube → keep the two largest remaining
components that look like lung (large, with parenchyma density rather than pure gas, which
rules out bowel and stomach gas); one component holding both lungs is split by erosion →
fill holes slice by slice so vessels and tumours inside the lung belong to it. Label 1 is
the right lung, 2 the left.

Works on the canonical grid (axis 0 inferior→superior, axis 2 right→left) produced by
:mod:`lungtumorseg.preprocess`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import ConvexHull, QhullError

AIR_THRESHOLD_HU = -400.0
AIRWAY_THRESHOLD_HU = -930.0
MIN_LUNG_VOLUME_ML = 400.0
# Lungs fill the posterior thorax; gas in the transverse colon or stomach sits anteriorly.
MIN_RELATIVE_DEPTH = 0.35
# Aerated lung parenchyma averages about -850 HU; gas in bowel/stomach is about -1000 HU.
MAX_GAS_LIKE_MEDIAN_HU = -960.0
MIN_SECOND_LUNG_FRACTION = 0.08
MAX_TRACHEA_AREA_MM2 = 700.0
# Erosions (of one canonical voxel each) tried to separate two lungs joined into one component.
MAX_SPLIT_EROSIONS = 8


@dataclass
class LungMask:
    """Result of the lung finder.

    ``labels`` is a (z, y, x) uint8 array on the canonical grid: 0 outside, 1 right lung,
    2 left lung. ``found`` is False when no lung-like air was found (then ``message`` says
    why and ``labels`` is all zero).
    """

    labels: np.ndarray
    found: bool
    volume_ml: float
    message: str

    @property
    def mask(self) -> np.ndarray:
        """Both lungs as one boolean array."""
        return self.labels > 0


def _remove_border_air(air: np.ndarray) -> np.ndarray:
    """Drop air connected to the in-plane border, slice by slice.

    Working in 2D keeps the lungs even where the trachea runs into an edge slice that is
    open to outside air (the top of a neck scan, a partly covered edge slice): in 3D the
    airways would connect the lungs to the outside.
    """
    out = np.zeros_like(air)
    for z in range(air.shape[0]):
        labels, n = ndi.label(air[z])
        if n == 0:
            continue
        border = np.zeros(n + 1, dtype=bool)
        for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
            border[edge] = True
        border[0] = True
        out[z] = ~border[labels]
    return out


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 3D connected component of ``mask`` (all False when ``mask`` is empty)."""
    labels, n = ndi.label(mask)
    if n == 0:
        return np.zeros_like(mask)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def _convex_hull_2d(mask: np.ndarray) -> np.ndarray:
    """The convex hull of a 2D mask (pixel centres), filled.

    The hull of the row-wise leftmost and rightmost pixels is the hull of the whole mask;
    being convex, it is filled row by row between its leftmost and rightmost edge crossings.
    """
    out = np.zeros_like(mask)
    rows = np.nonzero(mask.any(axis=1))[0]
    if rows.size == 0:
        return out
    first = np.argmax(mask[rows], axis=1)
    last = mask.shape[1] - 1 - np.argmax(mask[rows, ::-1], axis=1)
    points = np.concatenate([np.stack([rows, first], 1), np.stack([rows, last], 1)]).astype(float)
    try:
        corners = points[ConvexHull(points).vertices]
    except (QhullError, ValueError):  # a line or a point: fill the pixels themselves
        out[rows] = mask[rows]
        return out
    rows = np.arange(rows[0], rows[-1] + 1)  # rows without pixels between them are inside too
    lo = np.full(rows.size, np.inf)
    hi = np.full(rows.size, -np.inf)
    for (r0, c0), (r1, c1) in zip(corners, np.roll(corners, -1, axis=0)):
        on = (rows >= min(r0, r1)) & (rows <= max(r0, r1))
        if r0 == r1:  # a horizontal edge spans its row
            left, right = min(c0, c1), max(c0, c1)
        else:
            left = right = c0 + (rows[on] - r0) * (c1 - c0) / (r1 - r0)
        lo[on] = np.minimum(lo[on], left)
        hi[on] = np.maximum(hi[on], right)
    x = np.arange(mask.shape[1])
    out[rows] = (x[None, :] >= np.ceil(lo - 1e-6)[:, None]) & (x[None, :] <= np.floor(hi + 1e-6)[:, None])
    return out


def _inside_body_hull(air: np.ndarray, step: int = 2) -> np.ndarray:
    """Per axial slice, the convex hull of the body's cross-section.

    The body is the largest 3D component of non-air after an in-plane opening that detaches
    thin shells such as the table top (whose foam core has lung-like density). A lung that
    the field of view cuts off at the side is open to the image border, so "air not connected
    to the border" loses it; it still lies between the body's remaining chest wall, spine and
    mediastinum, i.e. inside the hull of that slice's body. Computed on every ``step``-th
    voxel (the hull only has to be right to a few millimetres) and repeated back.
    """
    cross = ndi.generate_binary_structure(2, 1)[None]
    coarse = ~air[::step, ::step, ::step]
    body = _largest_component(ndi.binary_opening(coarse, structure=cross))
    hull = np.zeros_like(body)
    for z in np.nonzero(body.any(axis=(1, 2)))[0]:
        hull[z] = _convex_hull_2d(body[z])
    full = hull.repeat(step, axis=0).repeat(step, axis=1).repeat(step, axis=2)
    return full[: air.shape[0], : air.shape[1], : air.shape[2]]


def _airway_mask(
    hu: np.ndarray, candidate: np.ndarray, spacing_mm: tuple[float, float, float]
) -> np.ndarray:
    """Trachea and main bronchi: pure-air tube grown down from the topmost air slices.

    Seeds are the small air components of the highest slices that hold candidate air (above
    the lung apices only the trachea is air). Growth is limited to pure air (< -930 HU after
    light smoothing) so it stays in the large airways instead of leaking into parenchyma.
    """
    zs = np.nonzero(candidate.any(axis=(1, 2)))[0]
    if zs.size == 0:
        return np.zeros_like(candidate)
    top = zs.max()
    seeds = np.zeros_like(candidate)
    pixel_mm2 = float(spacing_mm[0] * spacing_mm[1])
    for z in range(top, max(top - 4, -1), -1):
        lab, n = ndi.label(candidate[z])
        if n == 0:
            continue
        sizes = ndi.sum(candidate[z], lab, index=np.arange(1, n + 1))
        # A trachea cross-section is ~1.5-5 cm²; lung apices are larger blobs lower down.
        for idx, size in enumerate(sizes, start=1):
            if size * pixel_mm2 < MAX_TRACHEA_AREA_MM2:
                seeds[z][lab == idx] = True
    if not seeds.any():
        return np.zeros_like(candidate)
    pure_air = ndi.uniform_filter(hu, size=3) < AIRWAY_THRESHOLD_HU
    pure_air &= candidate
    lab, _ = ndi.label(pure_air)
    ids = np.unique(lab[seeds & pure_air])
    ids = ids[ids > 0]
    airway = np.isin(lab, ids)
    # A grown region that reaches a large share of the candidate leaked into the lungs.
    if airway.sum() > 0.25 * candidate.sum():
        return np.zeros_like(candidate)
    return ndi.binary_dilation(airway, iterations=1)


def _relative_depths(labels: np.ndarray, ids: list[int], boxes: list[tuple[slice, ...]],
                     body: np.ndarray) -> list[float]:
    """Anterior→posterior position of each component's centroid within the body (0…1).

    Each centroid is measured inside the component's own bounding box (``boxes[id - 1]``,
    :func:`scipy.ndimage.find_objects`), not over the whole grid once per component.
    """
    body_y = np.nonzero(body.any(axis=(0, 2)))[0]
    if body_y.size == 0:
        return [0.0] * len(ids)
    front, back = body_y.min(), body_y.max()
    span = max(back - front, 1)
    depths = []
    for i in ids:
        rows = np.nonzero(labels[boxes[i - 1]] == i)[1] + boxes[i - 1][1].start
        centre_y = float(rows.sum()) / float(rows.size)  # integer sums: the same value as a whole-grid mean
        depths.append(float((centre_y - front) / span))
    return depths


def _fill_holes_axial(mask: np.ndarray) -> np.ndarray:
    """Fill holes slice by slice (vessels, nodules inside the lung become lung)."""
    out = np.empty_like(mask)
    for z in range(mask.shape[0]):
        out[z] = ndi.binary_fill_holes(mask[z])
    return out


def _split_joined_lungs(component: np.ndarray) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """Split one component that holds both lungs into two, or None if it does not come apart.

    The lungs end up joined when the airway step misses a main bronchus (thick slices,
    partial volume) or at an anterior junction line. Eroding the component cuts such a
    bridge long before it cuts a lung (a main bronchus is 1-2 cm wide, a lung 10 cm); the
    two largest pieces become seeds, accepted only if they lie side by side (not a lung
    split into top and bottom), and every voxel goes to its nearest seed.
    """
    xs = np.nonzero(component.any(axis=(0, 1)))[0]
    width = float(xs.max() - xs.min() + 1) if xs.size else 0.0
    eroded = component
    for _ in range(MAX_SPLIT_EROSIONS):
        eroded = ndi.binary_erosion(eroded)
        pieces, n = ndi.label(eroded)
        if n < 2:
            continue
        sizes = np.bincount(pieces.ravel())[1:]
        first, second = np.argsort(-sizes)[:2] + 1
        if sizes[second - 1] < MIN_SECOND_LUNG_FRACTION * sizes[first - 1]:
            continue
        centre_x = [float(np.nonzero(pieces == k)[2].mean()) for k in (first, second)]
        if abs(centre_x[0] - centre_x[1]) < 0.25 * width:
            continue
        seeds = np.where(pieces == first, 1, np.where(pieces == second, 2, 0)).astype(np.uint8)
        nearest = seeds[tuple(ndi.distance_transform_edt(seeds == 0, return_distances=False, return_indices=True))]
        return component & (nearest == 1), component & (nearest == 2)
    return None


def find_lungs(hu: np.ndarray, spacing_mm: tuple[float, float, float]) -> LungMask:
    """Find the lungs in a canonical-grid CT array (HU, (z, y, x)).

    ``spacing_mm`` is the canonical spacing as (x, y, z).
    """
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    smooth = ndi.uniform_filter(hu.astype(np.float32, copy=False), size=2)
    air = smooth < AIR_THRESHOLD_HU
    candidate = _remove_border_air(air) | (air & _inside_body_hull(air))
    candidate &= ~_airway_mask(hu, candidate, spacing_mm)
    candidate = ndi.binary_opening(candidate, iterations=1)

    body = ~(air & ~candidate)
    labels, n = ndi.label(candidate)
    empty = np.zeros(hu.shape, dtype=np.uint8)
    if n == 0:
        return LungMask(empty, False, 0.0, "no air-filled lung found in the image")
    volumes = np.bincount(labels.ravel(), minlength=n + 1)[1:] * voxel_ml
    boxes = ndi.find_objects(labels)
    big = [i for i in np.argsort(-volumes) if volumes[i] >= MIN_LUNG_VOLUME_ML * 0.1][:6]
    depths = _relative_depths(labels, [int(i) + 1 for i in big], boxes, body) if big else []
    lung_like = []
    for i, depth in zip(big, depths):
        median = float(np.median(hu[boxes[i]][labels[boxes[i]] == i + 1]))
        if median > MAX_GAS_LIKE_MEDIAN_HU and depth >= MIN_RELATIVE_DEPTH:
            lung_like.append((float(volumes[i]), i + 1))
    largest = float(volumes.max())
    if not lung_like:
        return LungMask(empty, False, 0.0, _no_lungs_message(largest))
    keep = [lung_like[0]]
    if len(lung_like) > 1 and lung_like[1][0] >= MIN_SECOND_LUNG_FRACTION * lung_like[0][0]:
        keep.append(lung_like[1])
    total = float(sum(v for v, _ in keep))
    if total < MIN_LUNG_VOLUME_ML:
        return LungMask(empty, False, total, _no_lungs_message(total))

    parts = [(boxes[i - 1], labels[boxes[i - 1]] == i) for _, i in keep]
    if len(parts) == 1:
        split = _split_joined_lungs(parts[0][1])
        if split is not None:
            parts = [(parts[0][0], half) for half in split]
    # Canonical axis 2 runs right → left, so the smaller x is the right lung (label 1).
    centres_x = [box[2].start + float(np.nonzero(part.any(axis=(0, 1)))[0].mean()) for box, part in parts]
    if len(parts) == 2:
        names = [1, 2] if centres_x[0] < centres_x[1] else [2, 1]
    else:
        names = [1 if centres_x[0] < hu.shape[2] / 2 else 2]
    out = np.zeros(hu.shape, dtype=np.uint8)
    for (box, part), name in zip(parts, names):
        filled = _fill_holes_axial(part)
        out[box][filled & (out[box] == 0)] = name
    volume = float((out > 0).sum() * voxel_ml)
    return LungMask(out, True, volume, f"lungs found: {volume:.0f} mL")


def _no_lungs_message(largest_ml: float) -> str:
    return (
        "no lungs found in this image (largest air-filled region inside the body: "
        f"{largest_ml:.0f} mL, at least {MIN_LUNG_VOLUME_ML:.0f} mL of lung-density tissue "
        "is needed). Is this a chest CT? Nothing was segmented."
    )
