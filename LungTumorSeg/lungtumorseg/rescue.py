"""The magnified look's rescue: a candidate the candidate classifier rejects gets a second
judgement, by the look's classifier, on what the magnified map shows around it.

Why: most of the demo package's missed tumours of 10 mm and more are ground-glass or
part-solid ones that the zone networks mark only in part at their own scale. The normal map
then has a small candidate on the tumour, which the candidate classifier (trained on such
candidates) rejects; magnified, the same networks mark much more of the tumour
(``benchmarks/results/magnified_outline/PLAN_rescue.md``).

The rule: each candidate the check rejects (a candidate the look confirmed is never rejected)
is joined with the components of the magnified map at the threshold that overlap or
face-touch it, leaving out those that also reach a candidate the check kept (they belong to
that lesion: the look would otherwise judge a fragment by its neighbour); with none left it is
not reviewed. The look's classifier scores the joined candidate, with the magnified map as
its probability channel; at or above the look's cut-off the candidate is kept, with that
score. Its outline then grows like every kept lesion's, and the look's join
(:func:`lungtumorseg.magnify.join_touching`) gives each final lesion the magnified components
it shares the most faces with. Nothing else changes: no new candidate, no new parameter (the
look's own cut-off).

The rescue is recomputed from the two kept maps on every re-labelling (``relabel`` and the
Slicer module's "Update lesions"), which is why it needs the card's look to join
(``join_touching``): only then does a run keep the magnified map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from .candidate_check import CandidateCheck, candidate_patches


def touching_components(mask: np.ndarray, components: np.ndarray) -> set[int]:
    """The labels of ``components`` (int, 0 = background) that overlap or face-touch ``mask``
    (bool, same shape); only the box around ``mask`` is looked at."""
    where = np.argwhere(mask)
    if not len(where):
        return set()
    box = tuple(slice(max(int(a) - 1, 0), int(b) + 2) for a, b in zip(where.min(axis=0), where.max(axis=0)))
    near = components[box]
    return set(np.unique(near[ndi.binary_dilation(mask[box]) & (near > 0)]).tolist())


def joined_candidate(candidate: np.ndarray, magnified_components: np.ndarray,
                     claimed: set[int] | frozenset[int] = frozenset()) -> np.ndarray | None:
    """``candidate`` (bool) with every component of ``magnified_components`` (int labels, 0 =
    background, same shape) that overlaps or face-touches it, except the ``claimed`` ones;
    None when no other does."""
    touching = touching_components(candidate, magnified_components) - set(claimed)
    if not touching:
        return None
    return candidate | np.isin(magnified_components, sorted(touching))


def look_keeps(labels: sitk.Image, candidates: Iterable[int], kept: Iterable[int], ct: sitk.Image,
               look: CandidateCheck, magnified_at_or_above: np.ndarray, magnified: sitk.Image,
               to_probability: Callable[[sitk.Image], sitk.Image] | None = None) -> dict[int, float]:
    """Of ``candidates`` (labels of ``labels``), each one that the look's classifier ``look``
    scores, joined with the magnified components touching it and no ``kept`` candidate (module
    doc), at least its cut-off -> that score. ``magnified_at_or_above``: the magnified map at the
    threshold on ``labels``' grid (which must hold every component that can touch a candidate
    whole); ``magnified``: the whole map on the CT's grid, read through ``to_probability``
    (None: as probabilities) for the patches' probability channel. One batch of patches."""
    wanted = sorted(candidates)
    if not wanted:
        return {}
    lab = sitk.GetArrayViewFromImage(labels)
    components, _ = ndi.label(np.asarray(magnified_at_or_above, dtype=bool))
    claims = {k: touching_components(lab == k, components) for k in sorted(kept)}
    reviewed, patches = [], []
    for label in wanted:
        claimed = set().union(*(c for k, c in claims.items() if k != label))  # a kept candidate's own do not count
        joined = joined_candidate(lab == label, components, claimed)
        if joined is None:
            continue
        mask = sitk.GetImageFromArray(joined.astype(np.uint8))
        mask.CopyInformation(labels)
        reviewed.append(label)
        patches.append(candidate_patches(mask, ct, magnified, to_probability)[1])
    if not reviewed:
        return {}
    scores = look.scores_of_patches(np.concatenate(patches))
    return {label: float(score) for label, score in zip(reviewed, scores) if score >= look.cutoff}


def scores_keeping_rescued(scorer: Callable[[sitk.Image, sitk.Image, sitk.Image], dict[int, float]],
                           look: CandidateCheck, magnified: sitk.Image, threshold: float, cutoff: float,
                           kept_score: float) -> Callable[[sitk.Image, sitk.Image, sitk.Image], dict[int, float]]:
    """``scorer`` with every candidate the look would keep, were it rejected, scored
    ``kept_score``: a FROC over the candidate classifier's cut-off then keeps, at each level,
    what the pipeline with the rescue would. The components a kept candidate claims are those
    of the candidates scoring at least ``cutoff`` (the card's): exact at the card's point, an
    approximation at the other levels. ``magnified``: the look's whole map (CT grid,
    probabilities); the candidates' labels may be a crop of that grid."""

    def scores(labels: sitk.Image, ct: sitk.Image, probability: sitk.Image) -> dict[int, float]:
        out = scorer(labels, ct, probability)
        full = sitk.Paste(sitk.Image(ct.GetSize(), sitk.sitkUInt32), sitk.Cast(labels, sitk.sitkUInt32),
                          labels.GetSize(), [0, 0, 0],
                          list(ct.TransformPhysicalPointToIndex(labels.GetOrigin())))
        full.CopyInformation(ct)
        above = sitk.GetArrayViewFromImage(magnified) >= threshold
        kept = [label for label, score in out.items() if score >= cutoff]
        for label in look_keeps(full, out, kept, ct, look, above, magnified):
            out[label] = kept_score
        return out

    return scores


@dataclass
class RescuingCheck(CandidateCheck):
    """A candidate check whose rejections the magnified look reviews (module doc); made by
    :func:`rescuing_check`.

    ``inner`` judges first (the card's classifier, keeping the look's confirmed candidates);
    ``look`` is the look's classifier at its cut-off; ``magnified_at_or_above`` is the magnified
    map at the threshold on the grid of the labels judged (a crop of the CT's grid);
    ``magnified`` the whole magnified map on the CT's grid (its patches' probability channel,
    converted by the ``to_probability`` the judgement is given, like the main map).
    After a judgement, ``rescued`` holds the kept labels and their look scores. Its
    :meth:`judge` is the one decision it makes; ``scores`` is the inner classifier's."""

    inner: CandidateCheck | None = None
    look: CandidateCheck | None = None
    magnified_at_or_above: np.ndarray | None = None
    magnified: sitk.Image | None = None
    rescued: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.inner is None or self.look is None or self.magnified_at_or_above is None or self.magnified is None:
            raise ValueError("the magnified look's rescue needs the check it reviews, the look's classifier and the "
                             "magnified map (at the threshold and whole)")

    def judge(self, labels: sitk.Image, ct: sitk.Image, probability: sitk.Image,
              to_probability: Callable[[sitk.Image], sitk.Image] | None = None) -> tuple[dict[int, float], set[int]]:
        scores, rejected = self.inner.judge(labels, ct, probability, to_probability)
        kept = set(scores) - rejected
        self.rescued = look_keeps(labels, rejected, kept, ct, self.look, self.magnified_at_or_above, self.magnified,
                                  to_probability)
        for label, score in self.rescued.items():
            scores[label] = score
            rejected.discard(label)
        return scores, rejected


def rescuing_check(check: CandidateCheck, look: CandidateCheck, magnified_at_or_above: np.ndarray,
                   magnified: sitk.Image) -> RescuingCheck:
    """``check`` with its rejections reviewed by the look's classifier ``look`` (module doc)."""
    return RescuingCheck(check.network, check.cutoff, inner=check, look=look,
                         magnified_at_or_above=magnified_at_or_above, magnified=magnified)
