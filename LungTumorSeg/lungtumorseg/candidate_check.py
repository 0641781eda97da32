"""A second look at every lesion candidate: a small 3D CNN on the image around it.

Why: the segmentation networks' false findings on phantoms are small, confident blobs (peak
probability above 0.9, 9–13 mm) that no limit on size, peak, elongation or density tells
apart from tumours, and the tumours those limits reject are in the candidate list too. A
second network that looks at the neighbourhood of each candidate — the false-positive
reduction stage of LUNA16-style detectors (Setio et al., *Medical Image Analysis* 42,
2017) — ranks them better (``benchmarks/results/candidate_classifier_experiment/``).

What it sees: a 32³ patch of 1.5 mm (48 mm) around the candidate's centroid, axis-aligned
in LPS whatever the image's own orientation, with three channels: the CT (−1000…400 HU to
0…1), the tumour probability and the candidate's own mask. Values are rounded to float16,
as the patches it was trained on were. Its score is the sigmoid of its logit averaged over
the eight flips of the patch; a candidate below the card's cut-off is not a lesion.

The probability is read in whole percent, rounded down (as a kept map is stored, see
:mod:`lungtumorseg.relabel`): a run on the float map and an "update lesions" from the kept
percent map then see exactly the same patches and judge alike.

A model package carries it as ``candidate_check`` in the card (weights file with SHA-256,
network size, cut-off); see :meth:`lungtumorseg.models.package.ModelPackage.candidate_check`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

import numpy as np
import SimpleITK as sitk

#: Patch side in voxels and voxel size in mm (the card may not change them: the network's input is fixed).
PATCH_VOXELS = 32
PATCH_SPACING_MM = 1.5
#: CT window of the patch's first channel (HU), mapped linearly to 0..1.
PATCH_HU = (-1000.0, 400.0)
#: The eight flips (torch dims of a (batch, channel, z, y, x) tensor) averaged at test time.
FLIPS: tuple[tuple[int, ...], ...] = ((), (2,), (3,), (4,), (2, 3), (2, 4), (3, 4), (2, 3, 4))


def patch_grid(centre_lps: tuple[float, float, float]) -> sitk.Image:
    """The 32³ reference grid of 1.5 mm voxels, identity direction, centred on ``centre_lps``."""
    grid = sitk.Image([PATCH_VOXELS] * 3, sitk.sitkFloat32)
    grid.SetSpacing([PATCH_SPACING_MM] * 3)
    half = (PATCH_VOXELS - 1) / 2 * PATCH_SPACING_MM
    grid.SetOrigin(tuple(float(c) - half for c in centre_lps))
    return grid


def whole_percent(probability: sitk.Image) -> sitk.Image:
    """The map rounded down to whole percent, as float32 probabilities k / 100 (same grid)."""
    values = np.floor(sitk.GetArrayViewFromImage(probability).astype(np.float64) * 100.0 + 1e-9) / 100.0
    out = sitk.GetImageFromArray(values.astype(np.float32))
    out.CopyInformation(probability)
    return out


def _sample(image: sitk.Image, grid: sitk.Image, interpolator: int, outside: float) -> np.ndarray:
    resampled = sitk.Resample(image, grid, sitk.Transform(), interpolator, outside, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(resampled)


def _patch_reach(labels: sitk.Image, lab: np.ndarray, image: sitk.Image) -> tuple[list[int], list[int]]:
    """(index, size) of the part of ``image`` that the patches of ``labels``' candidates can
    sample: the candidates' box grown by half a patch in LPS, in ``image``'s voxels (whatever
    its direction), plus two voxels for interpolation, clipped to the image."""
    nonzero = np.argwhere(lab)
    lo, hi = nonzero.min(axis=0)[::-1], nonzero.max(axis=0)[::-1]  # (x, y, z) voxel indices
    corners = [labels.TransformContinuousIndexToPhysicalPoint([float(c) for c in (a, b, d)])
               for a in (lo[0], hi[0]) for b in (lo[1], hi[1]) for d in (lo[2], hi[2])]
    reach = (PATCH_VOXELS - 1) / 2 * PATCH_SPACING_MM
    low, high = np.min(corners, axis=0) - reach, np.max(corners, axis=0) + reach
    box = [image.TransformPhysicalPointToContinuousIndex([float(v) for v in (x, y, z)])
           for x in (low[0], high[0]) for y in (low[1], high[1]) for z in (low[2], high[2])]
    first = np.maximum(np.floor(np.min(box, axis=0)).astype(int) - 2, 0)
    last = np.minimum(np.ceil(np.max(box, axis=0)).astype(int) + 2, np.asarray(image.GetSize()) - 1)
    return [int(v) for v in first], [int(v) for v in np.maximum(last - first + 1, 1)]


def candidate_patches(labels: sitk.Image, ct: sitk.Image, probability: sitk.Image,
                      to_probability: Callable[[sitk.Image], sitk.Image] | None = None) -> tuple[list[int], np.ndarray]:
    """The labels present in ``labels`` and one (3, 32, 32, 32) float32 patch per label.

    ``labels`` may be a crop of the CT's grid (it is placed by its physical origin); ``ct``
    (HU) and ``probability`` should be the whole images, so a patch near the crop's edge
    still sees the image around it. Only the part of them the patches can reach is read and
    converted (``to_probability``: a stored map, e.g. whole percent, to probabilities; the
    map is taken as probabilities when None). Nothing is modified.
    """
    lab = sitk.GetArrayViewFromImage(labels)
    present = [int(v) for v in np.unique(lab) if v != 0]
    if not present:
        return [], np.zeros((0, 3) + (PATCH_VOXELS,) * 3, np.float32)
    index, size = _patch_reach(labels, lab, ct)
    ct_float = sitk.Cast(sitk.RegionOfInterest(ct, size, index), sitk.sitkFloat32)
    reached = sitk.RegionOfInterest(probability, size, index)
    prob_float = whole_percent(to_probability(reached) if to_probability else reached)
    lo, hi = PATCH_HU
    patches = []
    for value in present:
        centroid_zyx = np.argwhere(lab == value).mean(axis=0)
        centre = labels.TransformContinuousIndexToPhysicalPoint(tuple(float(v) for v in centroid_zyx[::-1]))
        grid = patch_grid(centre)
        mask = sitk.Cast(labels == value, sitk.sitkUInt8)
        hu = (np.clip(_sample(ct_float, grid, sitk.sitkLinear, lo), lo, hi) - lo) / (hi - lo)
        patch = np.stack([hu, _sample(prob_float, grid, sitk.sitkLinear, 0.0),
                          _sample(mask, grid, sitk.sitkNearestNeighbor, 0.0)])
        patches.append(patch.astype(np.float16).astype(np.float32))
    return present, np.stack(patches)


def build_classifier(network: Mapping[str, Any]) -> "Any":
    """The MONAI ``Classifier`` the card's ``candidate_check.network`` describes (one logit)."""
    from monai.networks.nets import Classifier

    return Classifier(in_shape=(3, PATCH_VOXELS, PATCH_VOXELS, PATCH_VOXELS), classes=1,
                      channels=tuple(int(c) for c in network["channels"]),
                      strides=tuple(int(s) for s in network["strides"]),
                      num_res_units=int(network.get("num_res_units", 1)),
                      dropout=network.get("dropout"))


@dataclass
class CandidateCheck:
    """A loaded candidate classifier and its cut-off (from a model package's card)."""

    network: Any  # torch.nn.Module in eval mode
    cutoff: float

    def scores_of_patches(self, patches: np.ndarray) -> np.ndarray:
        """Probability that each patch's candidate is a tumour, averaged over the eight flips."""
        import torch

        if len(patches) == 0:
            return np.zeros(0)
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(patches, dtype=np.float32))
            votes = [torch.sigmoid(self.network(torch.flip(x, flip) if flip else x)[:, 0]).numpy() for flip in FLIPS]
        return np.mean(votes, axis=0).astype(np.float64)

    def scores(self, labels: sitk.Image, ct: sitk.Image, probability: sitk.Image,
               to_probability: Callable[[sitk.Image], sitk.Image] | None = None) -> dict[int, float]:
        """Label → score for every label of ``labels`` (see :func:`candidate_patches`)."""
        present, patches = candidate_patches(labels, ct, probability, to_probability)
        return dict(zip(present, (float(s) for s in self.scores_of_patches(patches))))

    def judge(self, labels: sitk.Image, ct: sitk.Image, probability: sitk.Image,
              to_probability: Callable[[sitk.Image], sitk.Image] | None = None) -> tuple[dict[int, float], set[int]]:
        """Every label's score and the labels rejected: those scoring below the cut-off (the one
        place the decision is made; a variant check overrides this)."""
        scores = self.scores(labels, ct, probability, to_probability)
        return scores, {label for label, score in scores.items() if score < self.cutoff}

    def rejected(self, labels: sitk.Image, ct: sitk.Image, probability: sitk.Image,
                 to_probability: Callable[[sitk.Image], sitk.Image] | None = None) -> set[int]:
        """The labels whose score is below the cut-off: candidates that are not lesions."""
        return self.judge(labels, ct, probability, to_probability)[1]


def with_cutoff(check: CandidateCheck | None, cutoff: float | None) -> CandidateCheck | None:
    """``check`` judging at ``cutoff`` instead of its card's (None: unchanged) — the user's
    operating point: a lower cut-off keeps more candidates (more sensitive, more false
    findings), a higher one fewer. The package's own check is not changed. Raises
    ``ValueError`` for a cut-off outside 0..1 or when there is no classifier to set it for."""
    if cutoff is None:
        return check
    cutoff = float(cutoff)
    if not 0.0 <= cutoff <= 1.0:
        raise ValueError(f"the candidate cut-off must be between 0 and 1, got {cutoff:g}")
    if check is None:
        raise ValueError("a candidate cut-off was given, but no candidate classifier judges this run "
                         "(the model package has none, or the candidate check is off)")
    return replace(check, cutoff=cutoff)


@dataclass
class JudgedCandidates:
    """What a candidate check decided, kept so every reported lesion can show the score that
    kept it (the lesion table's "Candidate score").

    ``judge`` is the callable :func:`lungtumorseg.postprocess.label_lesions` takes; it lets the
    check judge the candidates it is given, remembers them, their scores and the check's
    verdict, and returns the rejected labels. The candidates
    are relabelled and their outlines may grow afterwards, so :meth:`lesion_scores` matches
    each final lesion to the kept candidate it contains (a kept candidate's voxels all stay in
    its lesion; growth only adds voxels)."""

    check: CandidateCheck
    ct: sitk.Image
    probability: sitk.Image
    to_probability: Callable[[sitk.Image], sitk.Image] | None = None
    candidates: np.ndarray | None = None  # the judged label array (candidate grid)
    scores: dict[int, float] | None = None
    rejected: set[int] | None = None  # the check's verdict on them

    def judge(self, labels: sitk.Image) -> set[int]:
        self.scores, self.rejected = self.check.judge(labels, self.ct, self.probability, self.to_probability)
        self.candidates = sitk.GetArrayFromImage(labels)
        return self.rejected

    def lesion_scores(self, lesions: sitk.Image) -> dict[int, float]:
        """Final lesion label -> the score of the kept candidate inside it (``lesions`` on the
        grid the candidates were judged on); empty before any judgement."""
        if self.candidates is None or not self.scores:
            return {}
        kept = np.array([label for label in self.scores if label not in self.rejected], dtype=np.int64)
        final = sitk.GetArrayViewFromImage(lesions)
        inside = (final > 0) & np.isin(self.candidates, kept)
        out: dict[int, float] = {}
        for lesion in np.unique(final[inside]):
            votes = np.bincount(self.candidates[inside & (final == lesion)].astype(np.int64))
            out[int(lesion)] = self.scores[int(np.argmax(votes))]
        return out
