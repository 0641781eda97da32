"""The magnified look's rescue: a candidate the candidate classifier rejects gets a second
judgement, by the look's classifier, on what the magnified map shows around it.

Why: most of the demo package's missed tumours of 10 mm and more are ground-glass or
part-solid ones that the zone networks mark only in part at their own scale. The normal map
then has a small candidate on the tumour, which the candidate classifier (trained on such
candidates) rejects; magnified, the same networks mark much more of the tumour
(``benchmarks/results/magnified_outline/PLAN_rescue.md``).

The rule: each candidate the check rejects (a candidate the look confirmed is never rejected)
that a component of the magnified map at the threshold overlaps or face-touches is joined with
all such components; the look's classifier scores that joined candidate, with the magnified
map as its probability channel; at or above the look's cut-off the candidate is kept, with
that score. Its outline then grows like every kept lesion's, and the look's join
(:func:`lungtumorseg.magnify.join_touching`) gives it the touching magnified components, so
the final lesion holds the joined candidate. Nothing else changes: no new candidate, no new
parameter (the look's own cut-off).

The rescue is recomputed from the two kept maps on every re-labelling (``relabel`` and the
Slicer module's "Update lesions"), which is why it needs the card's look to join
(``join_touching``): only then does a run keep the magnified map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from .candidate_check import CandidateCheck


def joined_candidate(candidate: np.ndarray, magnified_components: np.ndarray) -> np.ndarray | None:
    """``candidate`` (bool) with every component of ``magnified_components`` (int labels, 0 =
    background, same shape) that overlaps or face-touches it; None when none does."""
    touching = np.unique(magnified_components[ndi.binary_dilation(candidate) & (magnified_components > 0)])
    if not len(touching):
        return None
    return candidate | np.isin(magnified_components, touching)


@dataclass
class RescuingCheck(CandidateCheck):
    """A candidate check whose rejections the magnified look reviews (module doc).

    ``inner`` judges first (the card's classifier, keeping the look's confirmed candidates);
    ``look`` is the look's classifier at its cut-off; ``magnified_at_or_above`` is the magnified
    map at the threshold on the grid of the labels judged (a crop of the CT's grid);
    ``magnified`` the whole magnified map on the CT's grid (its patches' probability channel,
    converted by the ``to_probability`` the judgement is given, like the main map).
    After a judgement, ``rescued`` holds the kept labels and their look scores."""

    inner: CandidateCheck | None = None
    look: CandidateCheck | None = None
    magnified_at_or_above: np.ndarray | None = None
    magnified: sitk.Image | None = None
    rescued: dict[int, float] = field(default_factory=dict)

    def judge(self, labels: sitk.Image, ct: sitk.Image, probability: sitk.Image,
              to_probability: Callable[[sitk.Image], sitk.Image] | None = None) -> tuple[dict[int, float], set[int]]:
        assert self.inner is not None and self.look is not None and self.magnified is not None
        scores, rejected = self.inner.judge(labels, ct, probability, to_probability)
        self.rescued = {}
        if not rejected:
            return scores, rejected
        lab = sitk.GetArrayViewFromImage(labels)
        components, _ = ndi.label(np.asarray(self.magnified_at_or_above, dtype=bool))
        for label in sorted(rejected):
            joined = joined_candidate(lab == label, components)
            if joined is None:
                continue
            mask = sitk.GetImageFromArray(joined.astype(np.uint8))
            mask.CopyInformation(labels)
            score = self.look.scores(mask, ct, self.magnified, to_probability)[1]
            if score >= self.look.cutoff:
                self.rescued[label] = score
        for label, score in self.rescued.items():
            scores[label] = score
            rejected.discard(label)
        return scores, rejected


def rescuing_check(check: CandidateCheck, look: CandidateCheck, magnified_at_or_above: np.ndarray,
                   magnified: sitk.Image) -> RescuingCheck:
    """``check`` with its rejections reviewed by the look's classifier ``look`` (module doc)."""
    return RescuingCheck(check.network, check.cutoff, inner=check, look=look,
                         magnified_at_or_above=magnified_at_or_above, magnified=magnified)
