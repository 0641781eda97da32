"""Lesion-level detection: which true lesions were found, which predicted ones are false.

Lesions are the connected components (face connectivity, 6-neighbour in 3D — the same rule
the pipeline uses to label its output) of the truth mask and of the prediction mask.

Rules:

* a **truth lesion is detected** when at least one predicted component overlaps it (shares
  ≥ 1 voxel) with an intersection-over-union of at least ``min_iou`` (default 0: any
  overlap counts; 0.1 is a stricter common choice);
* a **predicted lesion is a false positive** when it overlaps no truth lesion at all
  (independent of ``min_iou``, so a badly-fitting hit is neither a detection nor an FP);
* a lesion's **size** is its equivalent diameter, the diameter of the sphere of the same
  volume, ``(6 V / π)^(1/3)``, binned into <10, 10–20, 20–30 and ≥30 mm.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

import numpy as np
from scipy import ndimage as ndi

SIZE_BINS: tuple[tuple[str, float, float], ...] = (
    ("<10mm", 0.0, 10.0),
    ("10-20mm", 10.0, 20.0),
    ("20-30mm", 20.0, 30.0),
    (">=30mm", 30.0, math.inf),
)


def equivalent_diameter_mm(volume_mm3: float) -> float:
    """Diameter (mm) of the sphere with volume ``volume_mm3``."""
    return (6.0 * max(volume_mm3, 0.0) / math.pi) ** (1.0 / 3.0)


def size_bin(diameter_mm: float) -> str:
    """Name of the size bin holding ``diameter_mm`` (lower edge inclusive)."""
    for name, lo, hi in SIZE_BINS:
        if lo <= diameter_mm < hi:
            return name
    return SIZE_BINS[-1][0]


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components of ``mask != 0`` with face connectivity: (labels, count)."""
    labels, n = ndi.label(np.asarray(mask) != 0)
    return labels.astype(np.int32, copy=False), int(n)


@dataclass
class LesionRecord:
    """One truth or predicted lesion and how it matched."""

    kind: str  # "truth" or "predicted"
    index: int  # component number within its mask, 1..N (by scan order)
    voxels: int
    volume_ml: float
    diameter_mm: float
    size_bin: str
    centroid_kji: list[float]
    matched: bool  # truth: detected; predicted: overlaps a truth lesion (not a FP)
    best_iou: float  # best IoU with a single component of the other mask (0 if none)
    n_overlapping: int  # components of the other mask it touches
    centroid_lps_mm: list[float] = field(default_factory=list)
    zone: str = "unknown"
    # highest tumour probability inside the lesion (nan without a probability map): tells a
    # lesion the network did not respond to (a miss no operating point can recover) from one
    # it saw but the threshold or the lesion filters removed
    peak_probability: float = float("nan")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DetectionResult:
    """All lesions of one case and the detection counts derived from them."""

    truth: list[LesionRecord]
    predicted: list[LesionRecord]
    min_iou: float

    @property
    def n_truth(self) -> int:
        return len(self.truth)

    @property
    def n_detected(self) -> int:
        return sum(r.matched for r in self.truth)

    @property
    def n_predicted(self) -> int:
        return len(self.predicted)

    @property
    def n_false_positive(self) -> int:
        return sum(not r.matched for r in self.predicted)

    @property
    def sensitivity(self) -> float:
        """Detected / truth lesions; nan without truth lesions."""
        return self.n_detected / self.n_truth if self.n_truth else float("nan")


def _records(
    kind: str, labels: np.ndarray, n: int, sizes: np.ndarray, voxel_mm3: float,
    iou: np.ndarray, touching: np.ndarray, matched: np.ndarray, probability: Optional[np.ndarray] = None,
) -> list[LesionRecord]:
    """One record per component; ``sizes[a]`` is component ``a + 1``'s voxel count."""
    if n == 0:
        return []
    centres = ndi.center_of_mass(labels > 0, labels, np.arange(1, n + 1))
    peaks = ndi.maximum(probability, labels, np.arange(1, n + 1)) if probability is not None \
        else np.full(n, float("nan"))
    out = []
    for a in range(n):
        vol = float(sizes[a]) * voxel_mm3
        d = equivalent_diameter_mm(vol)
        out.append(LesionRecord(
            kind, a + 1, int(sizes[a]), vol / 1000.0, d, size_bin(d),
            [float(c) for c in centres[a]], bool(matched[a]),
            float(iou[a].max()) if iou.shape[1] else 0.0, int(touching[a].sum()),
            peak_probability=float(peaks[a]),
        ))
    return out


def detect_lesions(
    pred: np.ndarray,
    truth: np.ndarray,
    spacing_xyz: Sequence[float],
    min_iou: float = 0.0,
    pred_components: Optional[tuple[np.ndarray, int]] = None,
    probability: Optional[np.ndarray] = None,
) -> DetectionResult:
    """Match the connected components of ``pred`` and ``truth`` (rules in the module doc).

    ``pred_components`` may pass an existing (labels, count) to skip relabelling. With the
    tumour ``probability`` map (same shape), every record gets its ``peak_probability``.
    """
    t_lab, n_t = label_components(truth)
    p_lab, n_p = pred_components if pred_components is not None else label_components(pred)
    if p_lab.shape != t_lab.shape:
        raise ValueError(f"prediction shape {p_lab.shape} differs from truth shape {t_lab.shape}")
    t_size = np.bincount(t_lab.ravel(), minlength=n_t + 1)
    p_size = np.bincount(p_lab.ravel(), minlength=n_p + 1)
    inter = np.zeros((n_t + 1, n_p + 1), dtype=np.int64)
    both = (t_lab > 0) & (p_lab > 0)
    np.add.at(inter, (t_lab[both], p_lab[both]), 1)
    inter = inter[1:, 1:]
    union = t_size[1:, None] + p_size[None, 1:] - inter
    iou = np.where(inter > 0, inter / np.maximum(union, 1), 0.0)
    touching = inter > 0
    detected = (touching & (iou >= min_iou)).any(axis=1) if n_p else np.zeros(n_t, bool)
    true_pred = touching.any(axis=0) if n_t else np.zeros(n_p, bool)
    voxel_mm3 = float(np.prod(spacing_xyz))
    return DetectionResult(
        _records("truth", t_lab, n_t, t_size[1:], voxel_mm3, iou, touching, detected, probability),
        _records("predicted", p_lab, n_p, p_size[1:], voxel_mm3, iou.T, touching.T, true_pred, probability),
        float(min_iou),
    )


def sensitivity_by_size(truth_lesions: Sequence[LesionRecord]) -> dict[str, dict[str, float]]:
    """Per size bin: number of truth lesions, number detected and sensitivity (nan if none)."""
    out: dict[str, dict[str, float]] = {}
    for name, _, _ in SIZE_BINS:
        in_bin = [r for r in truth_lesions if r.size_bin == name]
        hit = sum(r.matched for r in in_bin)
        out[name] = {"n_truth": len(in_bin), "n_detected": hit,
                     "sensitivity": hit / len(in_bin) if in_bin else float("nan")}
    return out
