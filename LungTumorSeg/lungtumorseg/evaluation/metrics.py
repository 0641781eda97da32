"""Voxel metrics between a binary prediction and the truth, with explicit edge-case rules.

Conventions (the same as the rest of LungTumorSeg):

* arrays are ``(k, j, i)`` = ``sitk.GetArrayFromImage`` order, usually (z, y, x);
* ``spacing_xyz`` is the voxel size in mm in SimpleITK order ``(i, j, k)`` (``GetSpacing()``);
  it is reversed internally wherever an array axis needs its own step.

Edge cases (chosen so that aggregation never crashes and never flatters):

===========================  =====================  ===================  ==================
case                         Dice / IoU             recall / precision   HD95 / ASD
===========================  =====================  ===================  ==================
truth empty, pred empty      1 / 1                  nan / nan            0 / 0
truth empty, pred not        0 / 0                  nan / 0              inf / inf
truth not, pred empty        0 / 0                  0 / nan              inf / inf
===========================  =====================  ===================  ==================

``nan`` means *undefined* (0/0: no tumour to find, or nothing predicted) and is skipped
when averaging over cases (with the count of skipped cases reported). ``inf`` means *the
distance is unbounded* (there is no surface to reach); averages of distances are over the
finite values and the number of infinite cases is reported next to them. CSV files write
``nan``/``inf``; JSON writes ``null``.

RMSE: ``rmse`` is between the *binary* prediction and the truth mask over the whole image,
as in the founding reports (for 0/1 masks it equals ``sqrt(1 - accuracy)``, so it mostly
reflects the field of view); ``rmse_probability`` is between the tumour probability map
and the truth mask, which also rewards calibrated confidence.

Slice-wise Dice (the founding reports' variant) is the mean over axial slices that contain
truth or prediction of each slice's Dice. It differs from volume Dice because it weights
every slice equally, so the small end slices of a lesion — where partial-volume errors are
large — count as much as its big central slices, and slices with only false positives count
as 0 (see :data:`SLICEWISE_NOTE`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

SLICEWISE_NOTE = (
    "Slice-wise Dice averages the Dice of every axial slice that contains truth or prediction, "
    "so it weights each slice equally: the small end slices of a lesion, where partial-volume "
    "errors are large, count as much as the big central slices, and slices with only false "
    "positives count as 0; it is therefore usually lower and noisier than volume Dice."
)

NAN = float("nan")
INF = float("inf")


@dataclass(frozen=True)
class Confusion:
    """Voxel counts of a binary comparison (true/false positives/negatives)."""

    tp: int
    fp: int
    fn: int
    tn: int

    def __add__(self, other: "Confusion") -> "Confusion":
        return Confusion(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


def confusion(pred: np.ndarray, truth: np.ndarray, region: Optional[np.ndarray] = None) -> Confusion:
    """Count TP/FP/FN/TN of two same-shape masks (non-zero = foreground).

    With ``region`` (a bool mask) only voxels inside it are counted, so TN is the region's
    background, not the whole scan's.
    """
    p, t = _as_bool(pred, truth)
    size = int(p.size)
    if region is not None:
        p, t = p & region, t & region
        size = int(np.count_nonzero(region))
    tp = int(np.count_nonzero(p & t))
    n_p, n_t = int(np.count_nonzero(p)), int(np.count_nonzero(t))
    fp, fn = n_p - tp, n_t - tp
    return Confusion(tp, fp, fn, size - tp - fp - fn)


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else NAN


def overlap_metrics(c: Confusion) -> dict[str, float]:
    """Dice, IoU, recall, precision, accuracy, specificity from counts (edge rules above)."""
    union = c.tp + c.fp + c.fn
    both_empty = union == 0
    return {
        "dice": 1.0 if both_empty else 2.0 * c.tp / (2 * c.tp + c.fp + c.fn),
        "iou": 1.0 if both_empty else c.tp / union,
        "recall": _ratio(c.tp, c.tp + c.fn),
        "precision": _ratio(c.tp, c.tp + c.fp),
        "accuracy": _ratio(c.tp + c.tn, c.total),
        "specificity": _ratio(c.tn, c.tn + c.fp),
    }


def _as_bool(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(pred) != 0, np.asarray(truth) != 0
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} differs from truth shape {t.shape}")
    return p, t


def _crop_to_union(p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Crop both masks to their joint bounding box plus one empty voxel on every side.

    The zero border reproduces what MONAI does at the image edge (outside counts as
    background), so distances are unchanged while big scans stay cheap.
    """
    union = p | t
    box = []
    for axis in range(union.ndim):
        other = tuple(a for a in range(union.ndim) if a != axis)
        idx = np.nonzero(union.any(axis=other))[0]
        box.append(slice(idx[0], idx[-1] + 1))
    box_t = tuple(box)
    return np.pad(p[box_t], 1), np.pad(t[box_t], 1)


def surface_distances(pred: np.ndarray, truth: np.ndarray, spacing_xyz: Sequence[float]) -> dict[str, float]:
    """HD95 and symmetric average surface distance (mm) via MONAI, edge rules above.

    MONAI takes the surface as the voxels removed by one binary erosion and measures
    Euclidean distances between surface voxel centres with the given spacing; HD95 is the
    larger of the two directed 95th percentiles, ASD the mean over both directions' distances.
    """
    p, t = _as_bool(pred, truth)
    has_p, has_t = bool(p.any()), bool(t.any())
    if not has_p and not has_t:
        return {"hd95_mm": 0.0, "asd_mm": 0.0}
    if has_p != has_t:
        return {"hd95_mm": INF, "asd_mm": INF}
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

    pc, tc = _crop_to_union(p, t)
    spacing = [float(s) for s in reversed(tuple(spacing_xyz))][-pc.ndim:]

    def onehot(m: np.ndarray) -> np.ndarray:
        return np.stack([~m, m])[None].astype(np.float32)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hd = compute_hausdorff_distance(onehot(pc), onehot(tc), percentile=95, spacing=spacing)
        asd = compute_average_surface_distance(onehot(pc), onehot(tc), symmetric=True, spacing=spacing)
    return {"hd95_mm": float(hd.reshape(-1)[0]), "asd_mm": float(asd.reshape(-1)[0])}


def volume_metrics(pred: np.ndarray, truth: np.ndarray, spacing_xyz: Sequence[float]) -> dict[str, float]:
    """Predicted and true volume (mL), their difference (pred − truth) and % of truth.

    ``volume_error_pct`` is nan when the truth is empty (no reference volume).
    """
    p, t = _as_bool(pred, truth)
    voxel_ml = float(np.prod(spacing_xyz)) / 1000.0
    vp, vt = np.count_nonzero(p) * voxel_ml, np.count_nonzero(t) * voxel_ml
    return {
        "pred_volume_ml": float(vp),
        "truth_volume_ml": float(vt),
        "volume_error_ml": float(vp - vt),
        "volume_error_pct": float(100.0 * (vp - vt) / vt) if vt > 0 else NAN,
    }


def rmse(values: np.ndarray, truth: np.ndarray, region: Optional[np.ndarray] = None) -> float:
    """Root mean square difference between ``values`` (mask or probability) and a 0/1 truth.

    Over the whole array, or over the voxels of ``region`` when given; nan if none.
    """
    v = np.asarray(values)
    t = np.asarray(truth) != 0
    if v.shape != t.shape:
        raise ValueError(f"shape {v.shape} differs from truth shape {t.shape}")
    if region is not None:
        v, t = v[region], t[region]
    if v.size == 0:
        return NAN
    if v.dtype == bool:
        return float(math.sqrt(np.count_nonzero(v != t) / v.size))
    diff = v.astype(np.float32) - t
    return float(math.sqrt(float(np.dot(diff.ravel(), diff.ravel())) / v.size))


def slicewise_dice(pred: np.ndarray, truth: np.ndarray, axis: int = 0) -> float:
    """Mean Dice over the slices (along ``axis``) that contain truth or prediction.

    1.0 when no slice contains either (the same convention as volume Dice).
    """
    p, t = _as_bool(pred, truth)
    other = tuple(a for a in range(p.ndim) if a != axis)
    tp = np.count_nonzero(p & t, axis=other)
    n_p = np.count_nonzero(p, axis=other)
    n_t = np.count_nonzero(t, axis=other)
    used = (n_p + n_t) > 0
    if not used.any():
        return 1.0
    return float(np.mean(2.0 * tp[used] / (n_p[used] + n_t[used])))


def axial_axis(direction: Optional[Sequence[float]]) -> int:
    """Array axis (0=k, 1=j, 2=i) whose physical direction is closest to the body (z) axis.

    ``direction`` is SimpleITK's row-major 3x3 (columns = i, j, k directions); ``None``
    means identity, i.e. array axis 0.
    """
    if direction is None:
        return 0
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    column = int(np.argmax(np.abs(d[2])))  # which index axis moves most along z
    return 2 - column


def voxel_metrics(
    pred: np.ndarray,
    truth: np.ndarray,
    spacing_xyz: Sequence[float],
    probability: Optional[np.ndarray] = None,
    slice_axis: int = 0,
    region: Optional[np.ndarray] = None,
) -> dict[str, float]:
    """Every voxel metric of one prediction (see the module docstring for definitions).

    ``region`` (bool mask) restricts everything to its voxels: used for per-zone metrics.
    """
    p, t = _as_bool(pred, truth)
    if region is not None:
        p, t = p & region, t & region
    c = confusion(p, t, region)
    out: dict[str, float] = {"tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn}
    out.update(overlap_metrics(c))
    out["slicewise_dice"] = slicewise_dice(p, t, slice_axis)
    out.update(surface_distances(p, t, spacing_xyz))
    out.update(volume_metrics(p, t, spacing_xyz))
    out["rmse"] = rmse(p, t, region)
    out["rmse_probability"] = rmse(probability, t, region) if probability is not None else NAN
    return out
