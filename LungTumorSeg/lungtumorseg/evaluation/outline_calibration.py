"""Choosing a card's outline growth (:mod:`lungtumorseg.outline`) on calibration cases.

Growth changes outlines, never which lesions are reported, so it is judged by voxel overlap
alone: the operating point (threshold and lesion filter) is chosen first, then every growth
setting of a small grid is applied to that point's lesions on every calibration case, and
the setting with the best mean Dice over tumour cases wins — "no growth" is a candidate
too and wins ties, so growth is adopted only where it measurably helps.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Iterable, Optional, Sequence

import numpy as np
import SimpleITK as sitk

from ..outline import OutlineGrowth, grow_outlines
from ..postprocess import LesionFilter, label_lesions

#: The grid searched by ``scripts/calibrate_threshold.py --outline-growth``: lower density
#: bounds from aerated-lung partial volume (-750) to ground glass (-550), an upper bound that
#: excludes (``-100``) or includes (``100``) solid tissue, and reaches of 2-8 mm.
GROWTH_GRID: tuple[OutlineGrowth, ...] = tuple(
    OutlineGrowth(lo, hi, d) for lo, hi, d in itertools.product((-750.0, -650.0, -550.0), (-100.0, 100.0), (2.0, 4.0, 8.0)))


@dataclass(frozen=True)
class CalibrationCase:
    """One calibration case: its probability map and CT on one grid, its truth, the lungs' extent."""

    probability: sitk.Image
    ct: sitk.Image
    truth: np.ndarray  # bool (z, y, x) on the same grid
    lung_z_lps_mm: Optional[tuple[float, float]] = None


@dataclass(frozen=True)
class GrowthScore:
    """How one growth setting (None: none) does at the chosen operating point."""

    growth: Optional[OutlineGrowth]
    mean_dice: float  # over tumour cases
    recall: float  # pooled tumour voxels found
    precision: float  # pooled lesion voxels that are tumour
    lesions: int  # reported lesions over all cases (the same for every setting)

    def to_dict(self) -> dict:
        return {"outline_growth": self.growth.to_dict() if self.growth else None, "mean_dice": round(self.mean_dice, 4),
                "recall": round(self.recall, 4), "precision": round(self.precision, 4), "lesions": self.lesions}


def score_growths(cases: Iterable[CalibrationCase], threshold: float, rule: LesionFilter,
                  growths: Sequence[Optional[OutlineGrowth]]) -> list[GrowthScore]:
    """Every setting of ``growths`` applied to ``rule``'s lesions (at ``threshold``) on every case."""
    dice = [[] for _ in growths]
    counts = np.zeros((len(growths), 4), dtype=np.int64)  # tp, fp, fn, lesions
    for case in cases:
        # the lesions are decided once (growth comes after the filters); each setting grows them
        kept = label_lesions(case.probability, threshold, replace(rule, outline_growth=None), ct=case.ct,
                             lung_z_lps_mm=case.lung_z_lps_mm)
        for k, growth in enumerate(growths):
            labels = sitk.GetArrayFromImage(kept if growth is None else grow_outlines(kept, case.ct, growth))
            found = labels > 0
            tp = int((found & case.truth).sum())
            fp, fn = int((found & ~case.truth).sum()), int((~found & case.truth).sum())
            counts[k] += (tp, fp, fn, int(labels.max()))
            if case.truth.any():
                dice[k].append(2.0 * tp / (2 * tp + fp + fn))
    return [GrowthScore(growth, float(np.mean(d)) if d else float("nan"),
                        float(c[0] / max(c[0] + c[2], 1)), float(c[0] / max(c[0] + c[1], 1)), int(c[3]))
            for growth, d, c in zip(growths, dice, counts)]


def choose_growth(scores: Sequence[GrowthScore]) -> GrowthScore:
    """The best mean Dice; on a tie the earlier setting (list "no growth" first)."""
    best = max(range(len(scores)), key=lambda i: (scores[i].mean_dice, -i))
    return scores[best]
