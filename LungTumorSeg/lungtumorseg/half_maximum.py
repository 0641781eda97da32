"""Half-maximum outlines: each final lesion's edge where the CT is half-way between the lesion
and the aerated lung around it.

Why: the outline a lesion gets from the probability map (and the fixed-density outline growth
of :mod:`lungtumorseg.outline`) is too wide for solid tumours and too narrow for ground-glass
ones. On 48 phantoms (seeds 10300-10347, demo 0.12.0) the found solid tumours were covered with
recall 0.96 but precision 0.83 (their partial-volume rim, which the fixed -650 HU floor takes
in, is counted as tumour), while ground-glass and part-solid tumours had recall 0.79 and 0.78
(their faint parts lie below what the networks mark). A CT voxel is a mix of what its volume
holds, so a voxel that is at least half tumour is at least half-way in density between the
tumour and the lung: the half-maximum level, the classic edge criterion of nodule volumetry.
It adapts by itself: for a solid nodule (about 30 HU in lung of about -850 HU) the edge is
near -410 HU, for a ground-glass one (about -600 HU) near -725 HU.

For each lesion (largest first), with ``T`` the median density of its voxels and ``B`` the
median density of the aerated voxels (at most ``aerated_max_hu``) ``lung_shell_mm`` around it
(``default_lung_hu`` when fewer than ``MIN_SHELL_VOXELS`` are there), the level is (T + B) / 2
(a lesion less than ``min_contrast_hu`` denser than B keeps its outline: it has no edge to find);
the new outline is the face-connected piece of the voxels at or above that level that are
either inside the lesion or free, within ``max_distance_mm`` of it and at most ``max_hu`` (bone
stays out), that holds the most of the lesion's own voxels at the level: one piece, so a lesion
is never broken in two (a vessel or pleural tag cut off at the level is dropped). Lesions never
merge, are never created or removed: a lesion that would keep less than ``min_kept_share`` of
its voxels keeps its outline. Lesions are numbered again by their new volumes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

#: Fewer aerated voxels than this around a lesion: its lung density is ``default_lung_hu``.
MIN_SHELL_VOXELS = 20
#: The key of the rule in the card's ``postprocessing.outline_growth``.
CARD_KEY = "half_maximum_outline"


@dataclass(frozen=True)
class HalfMaximumOutline:
    """Where a lesion's half-maximum outline may reach and how the lung around it is measured."""

    max_distance_mm: float = 2.0
    lung_shell_mm: tuple[float, float] = (3.0, 10.0)
    aerated_max_hu: float = -500.0
    default_lung_hu: float = -850.0
    max_hu: float = 100.0
    min_kept_share: float = 0.3
    min_contrast_hu: float = 100.0

    def __post_init__(self) -> None:
        if not 0.0 < self.max_distance_mm <= 20.0:
            raise ValueError(f"half-maximum outline distance must be in (0, 20] mm, got {self.max_distance_mm}")
        inner, outer = self.lung_shell_mm
        if not 0.0 <= inner < outer <= 40.0:
            raise ValueError(f"half-maximum lung shell must be 0 <= inner < outer <= 40 mm, got {self.lung_shell_mm}")
        if not all(math.isfinite(v) for v in (self.aerated_max_hu, self.default_lung_hu, self.max_hu)):
            raise ValueError("half-maximum outline densities must be finite HU")
        if not self.default_lung_hu <= self.aerated_max_hu < self.max_hu:
            raise ValueError("half-maximum outline needs default_lung_hu <= aerated_max_hu < max_hu, got "
                             f"{self.default_lung_hu}, {self.aerated_max_hu}, {self.max_hu}")
        if not 0.0 <= self.min_kept_share <= 1.0:
            raise ValueError(f"min_kept_share must be between 0 and 1, got {self.min_kept_share}")
        if not 0.0 < self.min_contrast_hu <= 1000.0:
            raise ValueError(f"min_contrast_hu must be in (0, 1000] HU, got {self.min_contrast_hu}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "HalfMaximumOutline":
        """From a card's ``postprocessing.outline_growth.half_maximum_outline`` (absent keys take the defaults)."""
        if not isinstance(values, Mapping):
            raise ValueError(f"{CARD_KEY} must be an object, got {values!r}")
        unknown = sorted(set(values) - set(cls.__dataclass_fields__) - {"method"})  # "method" only describes
        if unknown:
            raise ValueError(f"{CARD_KEY} has unknown keys {unknown}")
        given = {k: v for k, v in values.items() if k != "method"}
        if "lung_shell_mm" in given:
            shell = given["lung_shell_mm"]
            if not isinstance(shell, (list, tuple)) or len(shell) != 2:
                raise ValueError(f"{CARD_KEY}.lung_shell_mm must be [inner, outer] in mm, got {shell!r}")
            given["lung_shell_mm"] = (float(shell[0]), float(shell[1]))
        return cls(**{k: (v if k == "lung_shell_mm" else float(v)) for k, v in given.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"max_distance_mm": self.max_distance_mm, "lung_shell_mm": list(self.lung_shell_mm),
                "aerated_max_hu": self.aerated_max_hu, "default_lung_hu": self.default_lung_hu,
                "max_hu": self.max_hu, "min_kept_share": self.min_kept_share, "min_contrast_hu": self.min_contrast_hu,
                "method": "edge at (median lesion HU + median aerated lung HU around it) / 2"}

    def reach_voxels(self, spacing_xyz: tuple[float, ...]) -> list[int]:
        """How many voxels along x, y, z the rule looks beyond a lesion (its lung shell, one voxel
        more), to pad a region of interest so that a crop gives what the whole image gives."""
        reach = max(self.lung_shell_mm[1], self.max_distance_mm)
        return [int(math.ceil(reach / s)) + 1 for s in spacing_xyz]


def half_maximum_level(lesion: np.ndarray, hu: np.ndarray, distance_mm: np.ndarray,
                       rule: HalfMaximumOutline) -> float | None:
    """The lesion's edge level (HU): half-way between its median density and the median of the
    aerated voxels in the lung shell around it (``distance_mm``: distance from the lesion).
    None when the lesion is less than ``min_contrast_hu`` denser than that lung: it has no edge
    to find (the level would reach into the lung itself)."""
    inner, outer = rule.lung_shell_mm
    shell = (distance_mm >= inner) & (distance_mm <= outer) & (hu <= rule.aerated_max_hu)
    lung = float(np.median(hu[shell])) if int(shell.sum()) >= MIN_SHELL_VOXELS else rule.default_lung_hu
    lesion_hu = float(np.median(hu[lesion]))
    return 0.5 * (lesion_hu + lung) if lesion_hu - lung >= rule.min_contrast_hu else None


def refine_label_array(lab: np.ndarray, hu: np.ndarray, spacing_xyz: tuple[float, ...],
                       rule: HalfMaximumOutline) -> np.ndarray:
    """Each label of ``lab`` (z, y, x; 1..N, largest first) given its half-maximum outline,
    keeping its number (int64 copy; neither input is modified). ``hu`` shares ``lab``'s grid."""
    lab = np.asarray(lab).astype(np.int64)
    if hu.shape != lab.shape:
        raise ValueError("half-maximum outlines need the CT on the labels' grid")
    out = np.zeros_like(lab)
    spacing_zyx = tuple(float(s) for s in spacing_xyz[::-1])
    pad = rule.reach_voxels(tuple(spacing_xyz))[::-1]
    for label, tight in enumerate(ndi.find_objects(lab), start=1):  # largest lesion first
        if tight is None:
            continue
        box = tuple(slice(max(b.start - p, 0), min(b.stop + p, n)) for b, p, n in zip(tight, pad, lab.shape))
        lesion, density = lab[box] == label, np.asarray(hu[box], dtype=np.float32)
        distance = ndi.distance_transform_edt(~lesion, sampling=spacing_zyx)
        level = half_maximum_level(lesion, density, distance, rule)
        if level is None:
            out[box][lesion & (out[box] == 0)] = label
            continue
        free = (lab[box] == 0) & (out[box] == 0) & (distance <= rule.max_distance_mm) & (density <= rule.max_hu)
        allowed = (density >= level) & ((lesion & (out[box] == 0)) | free)
        components, _ = ndi.label(allowed)  # face connectivity
        own = np.bincount(components[lesion & allowed].ravel())
        own[0] = 0  # the piece holding most of the lesion's own voxels at the level: one piece, as before
        kept = components == int(np.argmax(own)) if own.any() else np.zeros_like(lesion)
        if int(kept.sum()) < rule.min_kept_share * int(lesion.sum()):
            kept = lesion & (out[box] == 0)
        out[box][kept] = label
    return out


def refine_outlines(labels: sitk.Image, ct: sitk.Image, rule: HalfMaximumOutline) -> sitk.Image:
    """``labels`` (1..N, largest first) with half-maximum outlines (module doc), numbered again
    1..N by decreasing volume (uint16, same grid). Neither input is modified; ``ct`` (HU) must
    share the labels' grid."""
    from .outline import relabel_by_size  # outline imports this module for its card form

    lab = sitk.GetArrayViewFromImage(labels)
    if not lab.any():
        return sitk.Cast(labels, sitk.sitkUInt16)
    refined = sitk.GetImageFromArray(
        refine_label_array(lab, sitk.GetArrayViewFromImage(ct), labels.GetSpacing(), rule).astype(np.uint32))
    refined.CopyInformation(labels)
    return sitk.Cast(relabel_by_size(refined), sitk.sitkUInt16)
