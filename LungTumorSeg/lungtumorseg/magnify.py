"""A magnified second look: the same zone networks shown the CT larger, for the small nodules
they do not answer at their own scale.

Why: the demo networks work on a 1.5 mm grid and answer every calibration tumour of 20 mm
or more, but a third of the part-solid ones of 10-16 mm get no response at all (peak
probability below 0.5; ``benchmarks/results/partsolid_synthetic/``), and four experiments
re-weighting their training data did not change that. Shown the CT resampled to
1.5 mm / ``zoom`` with every input channel computed as if the voxels were still 1.5 mm, a
12 mm nodule looks like an 18 mm one to them - a size they do answer
(``benchmarks/results/zoom_tta/``). The price is many more false responses (vessel
crossings and pleural folds look like nodules when magnified), so the magnified map only
*adds* what the package's candidate classifier confirms:

1. components of the magnified map at the threshold, of at least the minimum lesion volume,
   that neither overlap nor touch a component of the normal map at the threshold (merged, a
   touching one would join it) are *magnified-only candidates* (what the normal look
   already found it keeps, outline and all);
2. the look's classifier (its own, or the package's candidate classifier) scores each, with
   the magnified map as its probability channel;
3. those scoring at least the look's ``cutoff`` are *confirmed*: the final probability map
   takes the magnified map's values inside them; elsewhere it is the normal map.

Everything after (threshold, lesion limits, outline growth) treats the merged map like any
other. The card's candidate classifier, which was trained on the normal map's candidates,
does not judge the confirmed ones again: each confirmed candidate is remembered by one voxel
inside it (its magnified peak, in LPS millimetres) and its score, a run's report carries
these points, and a candidate holding one is kept with that score (:class:`ConfirmedCheck`) -
also when a saved map is re-labelled later at another threshold.

When the card's look says ``join_touching``, the magnified map also widens what was found,
*after* every judgement: each final lesion (classifiers, limits and outline growth done) takes
in every component of the magnified map at the threshold that overlaps or face-touches it
(:func:`join_touching`). The networks mark about half of a part-solid or ground-glass tumour at
their own scale and more of it magnified; joining before the judgement changed what the
candidate classifier saw and failed its gate, joining after it changes no decision about which
lesions exist (``benchmarks/results/magnified_outline/``). A run then keeps the magnified map
beside the probability map, so a re-labelling can repeat the join.

A model package enables the look with a ``magnified_look`` section in its card (zoom and
cut-off, chosen on calibration phantoms, and optionally a classifier of its own, trained on
magnified candidates, stored like ``candidate_check``); it needs the card's
``candidate_check``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from .candidate_check import CandidateCheck

#: The card section that enables the look.
CARD_SECTION = "magnified_look"


@dataclass(frozen=True)
class MagnifiedLook:
    """How much the CT is magnified and the classifier score a magnified-only candidate needs."""

    zoom: float = 1.5
    cutoff: float = 0.9
    join_touching: bool = False  # final lesions take in the magnified components touching them (module doc)

    def __post_init__(self) -> None:
        if not 1.0 < self.zoom <= 3.0:
            raise ValueError(f"the magnified look's zoom must be above 1 and at most 3, got {self.zoom}")
        if not 0.0 <= self.cutoff < 1.0:
            raise ValueError(f"the magnified look's cut-off must be in [0, 1), got {self.cutoff}")
        if not isinstance(self.join_touching, bool):
            raise ValueError(f"the magnified look's join_touching must be true or false, got {self.join_touching!r}")

    def to_card(self) -> dict[str, Any]:
        return {"zoom": self.zoom, "cutoff": self.cutoff, "join_touching": self.join_touching,
                "method": "same networks on the CT resampled to spacing/zoom with channels computed at the "
                          "nominal spacing; magnified-only candidates kept when the look's classifier "
                          "scores them >= cutoff" + ("; after the judgement each lesion takes in the magnified "
                                                     "components at the threshold touching it"
                                                     if self.join_touching else "")}

    @classmethod
    def from_card(cls, section: Mapping[str, Any] | None) -> "MagnifiedLook | None":
        """The look a card section describes, or None when the card has none (a section that is
        not a mapping with a zoom and a cut-off raises ``ValueError``)."""
        if section is None:
            return None
        if not isinstance(section, Mapping) or "zoom" not in section or "cutoff" not in section:
            raise ValueError(f"the magnified look needs a zoom and a cutoff, got {section!r}")
        return cls(zoom=float(section["zoom"]), cutoff=float(section["cutoff"]),
                   join_touching=section.get("join_touching", False))


def magnified_only_candidates(magnified: np.ndarray, normal: np.ndarray, threshold: float,
                              min_voxels: int) -> np.ndarray:
    """Labels (int32, 1..N in scan order, 0 elsewhere) of the components (face connectivity)
    of ``magnified >= threshold`` with at least ``min_voxels`` voxels that neither overlap nor
    touch (share a face with) a voxel of ``normal >= threshold``: merged into the map, a
    candidate touching a normal component would join it. Both maps share one grid."""
    labels, n = ndi.label(magnified >= threshold)
    if n == 0:
        return labels.astype(np.int32)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= max(int(min_voxels), 1)
    keep[np.unique(labels[ndi.binary_dilation(normal >= threshold)])] = False
    keep[0] = False
    renumber = np.zeros(n + 1, np.int32)
    renumber[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return renumber[labels]


#: A confirmed candidate: a voxel inside it (LPS x, y, z in mm) and its score.
ConfirmedPoint = tuple[float, float, float, float]


@dataclass
class ConfirmedCheck(CandidateCheck):
    """A candidate check that keeps, with their look's score, the candidates holding a point
    the magnified look confirmed, and judges every other candidate as ``CandidateCheck``."""

    confirmed: tuple[ConfirmedPoint, ...] = ()

    def judge(self, labels: sitk.Image, ct: sitk.Image, probability: sitk.Image,
              to_probability: Callable[[sitk.Image], sitk.Image] | None = None) -> tuple[dict[int, float], set[int]]:
        scores, rejected = super().judge(labels, ct, probability, to_probability)
        for label, score in labels_holding(labels, self.confirmed).items():
            if label in scores:
                scores[label] = max(scores[label], score)
                rejected.discard(label)
        return scores, rejected


def labels_holding(labels: sitk.Image, points: tuple[ConfirmedPoint, ...]) -> dict[int, float]:
    """Label (non-zero) of ``labels`` at each point inside its grid -> the highest score of the
    points it holds."""
    lab = sitk.GetArrayViewFromImage(labels)
    held: dict[int, float] = {}
    for x, y, z, score in points:
        index = labels.TransformPhysicalPointToIndex((x, y, z))
        if all(0 <= i < n for i, n in zip(index, labels.GetSize())):
            label = int(lab[index[2], index[1], index[0]])
            if label:
                held[label] = max(held.get(label, 0.0), float(score))
    return held


def confirmed_check(check: CandidateCheck | None, confirmed: tuple[ConfirmedPoint, ...]) -> CandidateCheck | None:
    """``check`` keeping the ``confirmed`` candidates (unchanged when there are none or no check)."""
    if check is None or not confirmed:
        return check
    return ConfirmedCheck(check.network, check.cutoff, tuple(confirmed))


#: A confirmed candidate's score in a FROC over the classifier's cut-off: kept at every
#: cut-off (cut-offs are at most 1), as the pipeline keeps it whatever the cut-off.
KEPT_AT_ANY_CUTOFF = 1.0


def scores_keeping_confirmed(check: CandidateCheck, confirmed: tuple[ConfirmedPoint, ...]
                             ) -> Callable[[sitk.Image, sitk.Image, sitk.Image], dict[int, float]]:
    """``check.scores`` with every candidate that holds a ``confirmed`` point scored
    :data:`KEPT_AT_ANY_CUTOFF`: the scorer a FROC of the classifier's cut-off needs for a map
    the magnified look added candidates to, so each level keeps what the pipeline would."""

    def scores(labels: sitk.Image, ct: sitk.Image, probability: sitk.Image) -> dict[int, float]:
        out = check.scores(labels, ct, probability)
        for label in labels_holding(labels, confirmed):
            if label in out:
                out[label] = KEPT_AT_ANY_CUTOFF
        return out

    return scores


@dataclass
class ConfirmedRegions:
    """What the look added: the merged map, each magnified-only candidate's score and which
    were confirmed (labels of ``candidates``)."""

    probability: np.ndarray
    candidates: np.ndarray
    scores: dict[int, float]
    confirmed: set[int]
    points: tuple[ConfirmedPoint, ...] = ()  # one per confirmed candidate: its magnified peak and score


def add_confirmed(normal: np.ndarray, magnified: np.ndarray, ct: sitk.Image, threshold: float,
                  min_lesion_mm3: float, check: CandidateCheck, look: MagnifiedLook) -> ConfirmedRegions:
    """The normal map with the confirmed magnified-only candidates' magnified values.

    ``normal`` and ``magnified`` are (z, y, x) arrays on ``ct``'s grid (HU image, which the
    classifier's patches are cut from); nothing passed in is modified."""
    voxel_mm3 = float(np.prod(ct.GetSpacing()))
    candidates = magnified_only_candidates(magnified, normal, threshold, int(np.ceil(min_lesion_mm3 / voxel_mm3)))
    merged = np.array(normal, dtype=np.float32, copy=True)
    if not candidates.any():
        return ConfirmedRegions(merged, candidates, {}, set())
    labels = sitk.GetImageFromArray(candidates.astype(np.uint32))
    labels.CopyInformation(ct)
    channel = sitk.GetImageFromArray(np.asarray(magnified, dtype=np.float32))
    channel.CopyInformation(ct)
    scores = check.scores(labels, ct, channel)
    confirmed = {label for label, score in scores.items() if score >= look.cutoff}
    inside = np.isin(candidates, sorted(confirmed))
    merged[inside] = np.maximum(merged[inside], magnified[inside])
    points = []
    for label in sorted(confirmed):
        voxels = np.argwhere(candidates == label)
        peak = voxels[int(np.argmax(magnified[tuple(voxels.T)]))]
        x, y, z = ct.TransformIndexToPhysicalPoint(tuple(int(v) for v in peak[::-1]))
        points.append((round(x, 3), round(y, 3), round(z, 3), round(float(scores[label]), 6)))
    return ConfirmedRegions(merged, candidates, scores, confirmed, tuple(points))


def join_touching(labels: sitk.Image, magnified_at_or_above: np.ndarray) -> sitk.Image:
    """``labels`` (lesions 1..N) with each lesion joined by every component (face connectivity)
    of ``magnified_at_or_above`` (bool, z-y-x, the labels' grid) that overlaps or face-touches it,
    numbered again 1..N by decreasing volume (uint16, same grid).

    Voxels already in a lesion keep it. A component touching several lesions joins the one it
    shares the most faces with (ties: the larger, i.e. the lower number, as lesions come numbered
    by decreasing volume), so a halo around a small lesion that grazes a large one stays with the
    small one. Components touching no lesion add nothing: which lesions exist does not change and
    two are never merged. Neither input is modified."""
    from .outline import relabel_by_size

    lab = sitk.GetArrayFromImage(labels)
    above = np.asarray(magnified_at_or_above, dtype=bool)
    if above.shape != lab.shape:
        raise ValueError("the magnified map and the lesion labels are not on the same grid")
    free = above & (lab == 0)
    if not lab.any() or not free.any():
        return sitk.Cast(labels, sitk.sitkUInt16)
    components, n = ndi.label(above)
    contacts = []  # (component, lesion) of each face between a free component voxel and a lesion voxel
    for axis in range(3):
        for step in (1, -1):
            here, there = [slice(None)] * 3, [slice(None)] * 3
            here[axis] = slice(None, -1) if step == 1 else slice(1, None)
            there[axis] = slice(1, None) if step == 1 else slice(None, -1)
            neighbour = lab[tuple(there)]
            touch = free[tuple(here)] & (neighbour > 0)
            contacts.append(np.stack([components[tuple(here)][touch], neighbour[touch].astype(np.int32)], axis=1))
    pairs = np.concatenate(contacts)
    owner = np.zeros(n + 1, np.int32)
    if len(pairs):
        keys, counts = np.unique(pairs, axis=0, return_counts=True)
        keys = keys[np.lexsort((keys[:, 1], -counts, keys[:, 0]))]  # by component, most faces, lowest label
        first = np.ones(len(keys), bool)
        first[1:] = keys[1:, 0] != keys[:-1, 0]
        owner[keys[first, 0]] = keys[first, 1]
    out = lab.astype(np.uint32)
    out[free] = owner[components[free]]
    joined = sitk.GetImageFromArray(out)
    joined.CopyInformation(labels)
    return sitk.Cast(relabel_by_size(joined), sitk.sitkUInt16)


def components_reaching(mask: np.ndarray, index: list[int], size: list[int]) -> np.ndarray:
    """The components (face connectivity) of ``mask`` (bool, z-y-x) with a voxel inside the box
    ``index``/``size`` (SimpleITK x, y, z order) grown by one voxel: the magnified components that
    can touch a lesion inside that box (bool, same shape)."""
    out = np.zeros(mask.shape, bool)
    box = tuple(slice(max(i - 1, 0), min(i + n + 1, dim)) for i, n, dim in zip(index[::-1], size[::-1], mask.shape))
    if not mask[box].any():
        return out
    hit = np.argwhere(mask)  # label only the mask's own bounding box (the lungs, not the scan)
    lo, hi = hit.min(axis=0), hit.max(axis=0) + 1
    own = tuple(slice(a, b) for a, b in zip(lo, hi))
    components, _ = ndi.label(mask[own])
    inner = tuple(slice(max(b.start - o.start, 0), max(b.stop - o.start, 0)) for b, o in zip(box, own))
    ids = np.unique(components[inner])
    out[own] = np.isin(components, ids[ids > 0])
    return out
