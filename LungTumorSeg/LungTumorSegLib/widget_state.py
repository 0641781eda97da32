"""Decisions the Widget shows, as plain functions (testable without Qt or Slicer).

Why: the one part that cannot run headless is the Qt GUI, so the GUI keeps no logic of
its own — whether Apply is enabled, what its tooltip says, what the button is labelled,
how progress reads — it asks these functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from lungtumorseg.zones import ZONE_NAMES


@dataclass(frozen=True)
class InputInfo:
    """What the Widget knows about the selected input volume."""

    present: bool
    components: int = 1
    dimensions: tuple[int, int, int] = (0, 0, 0)
    is_labelmap: bool = False
    scalar_range: tuple[float, float] | None = None  # (min, max) of the voxel values, if known
    modality: str = ""  # DICOM Modality (0008,0060) of the series it was loaded from, if any


@dataclass(frozen=True)
class ModelInfo:
    """What the Widget knows about the selected model package."""

    present: bool
    name: str = ""
    demo: bool = False
    error: str = ""  # e.g. a checksum mismatch found when listing the package


MIN_SLICES = 8

# A chest CT in Hounsfield units holds air outside the body and in the lungs (about -1000 HU);
# a volume whose darkest voxel is brighter than this is not one (an MR, a PET, a CT without
# its rescale to HU, a segmentation stored as a scalar volume).
MAX_DARKEST_CT_HU = -500.0


def dicom_modality(node, database) -> str:
    """DICOM Modality (0008,0060) of the series a volume node was loaded from, asked of Slicer's
    DICOM database (``slicer.dicomDatabase``); "" when the node did not come from DICOM or the
    database cannot tell (which must never block the module)."""
    uids = node.GetAttribute("DICOM.instanceUIDs") if node is not None else None
    if not uids or database is None:
        return ""
    try:
        return database.fileValue(database.fileForInstance(uids.split()[0]), "0008,0060") or ""
    except Exception:  # noqa: BLE001 (a database error only means "unknown")
        return ""


def input_info(node, modality: str = "") -> InputInfo:
    """What :func:`apply_state` needs to know of a volume node (any ``vtkMRMLVolumeNode``;
    duck-typed, so this module stays free of Slicer imports). ``modality`` is the DICOM
    Modality of the series the node was loaded from, when the Widget can tell."""
    image = node.GetImageData() if node is not None else None
    if image is None:
        return InputInfo(present=False)
    low, high = image.GetScalarRange()
    return InputInfo(present=True, components=image.GetNumberOfScalarComponents(),
                     dimensions=tuple(image.GetDimensions()), is_labelmap=node.IsA("vtkMRMLLabelMapVolumeNode"),
                     scalar_range=(float(low), float(high)), modality=modality.strip().upper())


def package_tooltip(package) -> str:
    """Tooltip of a package in the model selector (a ``model_packages.PackageInfo``): what it
    is for and, for demo weights, the warning — not the card's version notes."""
    parts = [f"{package.name} {package.version}.", package.intended_use.strip()]
    if package.warning and package.warning not in package.intended_use:
        parts.append(package.warning)
    return " ".join(part for part in parts if part)


def apply_state(input_info: InputInfo, model_info: ModelInfo, running: bool,
                dependencies_missing: tuple[str, ...] = ()) -> tuple[bool, str]:
    """(enabled, tooltip) of the Apply/Cancel button."""
    if running:
        return True, "Stop the running segmentation (the scene is left as it was)."
    if not input_info.present:
        return False, "Select an input CT volume."
    if input_info.is_labelmap:
        return False, "The input is a labelmap; select a CT (scalar) volume."
    if input_info.components != 1:
        return False, "The input has several components (e.g. colour); select a greyscale CT volume."
    if min(input_info.dimensions) < 1 or input_info.dimensions[2] < MIN_SLICES:
        return False, f"The input volume has fewer than {MIN_SLICES} slices; select a chest CT volume."
    if input_info.modality and input_info.modality != "CT":
        return False, (f"The input was loaded from a DICOM {input_info.modality} series; LungTumorSeg needs a "
                       "chest CT.")
    if input_info.scalar_range is not None and input_info.scalar_range[0] > MAX_DARKEST_CT_HU:
        return False, (f"The input's darkest voxel is {input_info.scalar_range[0]:.0f}, but a chest CT in "
                       "Hounsfield units has air near -1000 HU: select a CT volume (an MR or a CT not "
                       "rescaled to HU cannot be segmented).")
    if not model_info.present:
        return False, "Select a model package (or install one from a folder or URL)."
    if model_info.error:
        return False, f"The model package cannot be used: {model_info.error}"
    tip = f"Segment lung tumours with the model '{model_info.name}'."
    if dependencies_missing:
        tip += " Missing Python packages (" + ", ".join(dependencies_missing) + ") will be installed after you confirm."
    if model_info.demo:
        tip += " Demo weights: trained on synthetic data, a demonstration, not for clinical use."
    return True, tip


def update_lesions_state(has_kept_probability: bool, running: bool) -> tuple[bool, str]:
    """(enabled, tooltip) of "Update lesions", which re-derives the lesions from the kept
    probability map with the current threshold and filters instead of running the network."""
    if running:
        return False, "Wait for the running segmentation to finish."
    if not has_kept_probability:
        return False, ("Run the segmentation first, with 'Keep probability map' on: updating re-uses the "
                       "probability map of that run.")
    return True, ("Recompute the lesions of the output segmentation from its kept probability map with the "
                  "threshold and filters set below (about a second; the network is not run again).")


# Parameter-node fields that define the operating point "Update lesions" applies.
OPERATING_POINT_PARAMETERS = ("threshold", "minLesionMm3", "minPeakProbability", "maxElongation", "maxMeanHu",
                              "zoneLimits", "outlineGrowth", "candidateCheck", "candidateCutoff")


def operating_point(parameters: object) -> tuple[float, ...]:
    """The current operating point (threshold, lesion filter, the card's zone limits, outline
    growth and candidate classifier on/off) read from a parameter node (or any object with
    those attributes), to notice when the user changed it."""
    return tuple(float(getattr(parameters, name)) for name in OPERATING_POINT_PARAMETERS)


def auto_update_due(auto_update: bool, has_kept_probability: bool, running: bool,
                    previous: tuple[float, ...] | None, current: tuple[float, ...]) -> bool:
    """Whether a change of the operating point should re-derive the lesions by itself.

    Only when the user asked for it, a kept map exists, nothing is running, and the point
    really changed (the parameter node also reports unrelated edits, e.g. a new input).
    """
    return auto_update and has_kept_probability and not running and previous is not None and previous != current


def apply_button_text(running: bool) -> str:
    """Label of the Apply button, which turns into Cancel while a run is going."""
    return "Cancel" if running else "Apply"


def progress_text(fraction: float, stage: str) -> tuple[int, str]:
    """Progress bar value (0..100) and status text for a progress report."""
    fraction = min(max(float(fraction), 0.0), 1.0)
    percent = int(round(100 * fraction))
    return percent, f"{stage} ({percent}%)" if stage else f"{percent}%"


def result_summary(lesions: list[dict], elapsed_s: float, status: str = "ok", model_warning: str = "") -> str:
    """One-paragraph status after a run, for the status label and log."""
    if status == "no_lungs":
        text = "No lungs were found in this volume; nothing was segmented. Is it a chest CT?"
    elif not lesions:
        text = f"No lung tumour found ({elapsed_s:.1f} s)."
    else:
        total_ml = sum(float(l.get("volume_ml", 0.0)) for l in lesions)
        noun = "lesion" if len(lesions) == 1 else "lesions"
        # "magnified look" is lungtumorseg.measure.MAGNIFIED, not imported: measure needs scipy,
        # which a Slicer without the module's dependencies lacks
        by_look = sum(lesion.get("found_by") == "magnified look" for lesion in lesions)
        looked = f", {by_look} of them by the magnified second look" if by_look else ""
        text = f"{len(lesions)} {noun} found{looked}, {total_ml:.2f} ml in total ({elapsed_s:.1f} s)."
    if model_warning:
        text += f" {model_warning}"
    return text


def report_summary(report: dict, lesions: list[dict], elapsed_s: float, status: str = "ok") -> str:
    """:func:`result_summary` for a run's or an update's report: the demo warning comes from the
    report's model section (shown only for demo models)."""
    model = report.get("model", {})
    return result_summary(lesions, elapsed_s, status, model.get("warning", "") if model.get("demo") else "")


#: The density spin box's top value, shown as "no limit" (CT values end near 3071 HU).
NO_DENSITY_LIMIT_HU = 3000.0


def mean_hu_for_gui(max_mean_hu: float) -> float:
    """The Widget's spin-box value for a density limit: its top value shows "no limit"."""
    return NO_DENSITY_LIMIT_HU if math.isinf(max_mean_hu) else min(float(max_mean_hu), NO_DENSITY_LIMIT_HU)


def mean_hu_from_gui(value: float) -> float:
    """The run's density limit from the spin box: its top value ("no limit") means infinity."""
    return math.inf if value >= NO_DENSITY_LIMIT_HU else float(value)


def elongation_for_gui(max_elongation: float) -> float:
    """The Widget's spin-box value for a card/run elongation limit: 0 shows "no limit"."""
    return 0.0 if math.isinf(max_elongation) else float(max_elongation)


def elongation_from_gui(value: float) -> float:
    """The run's elongation limit from the spin box: 0 ("no limit") means infinity."""
    return math.inf if value <= 0.0 else float(value)


def describe_limits(limits: Mapping) -> str:
    """A card's limits (its ``postprocessing`` form: ``None`` = no limit) in words, e.g.
    "at least 850 mm³, confidence at least 0.60"; only the limits that exclude something."""
    parts = []
    if float(limits.get("min_lesion_mm3") or 0.0) > 0.0:
        parts.append(f"at least {float(limits['min_lesion_mm3']):g} mm³")
    if float(limits.get("min_peak_probability") or 0.0) > 0.0:
        parts.append(f"confidence at least {float(limits['min_peak_probability']):.2f}")
    if limits.get("max_elongation") is not None and math.isfinite(float(limits["max_elongation"])):
        parts.append(f"elongation at most {float(limits['max_elongation']):g}")
    if limits.get("max_mean_hu") is not None and math.isfinite(float(limits["max_mean_hu"])):
        parts.append(f"mean density at most {float(limits['max_mean_hu']):g} HU")
    return ", ".join(parts) or "no limit beyond the general ones"


def zone_limits_text(zone_limits: Mapping | None) -> tuple[bool, str]:
    """(enabled, tooltip) of the "Zone limits from the model" check box for a package's card
    zone limits (``{"middle": {"min_lesion_mm3": 850, ...}}``; empty when the card has none)."""
    if not zone_limits:
        return False, ("The selected model package has no zone limits: the general limits apply in every zone.")
    zones = sorted(zone_limits, key=lambda z: (ZONE_NAMES.index(z) if z in ZONE_NAMES else len(ZONE_NAMES), z))
    described = "; ".join(f"{zone} zone: {describe_limits(zone_limits[zone] or {})}" for zone in zones)
    return True, ("The model card requires more of lesions in some zones, where its network gives more false "
                  f"findings (e.g. the hilar middle zone): {described}. Checked: a lesion whose centre lies in "
                  "such a zone must pass these limits too (the stricter applies). Unchecked: the general limits "
                  "alone, in every zone.")


def outline_growth_text(outline_growth: Mapping | None) -> tuple[bool, str]:
    """(enabled, tooltip) of the "Grow outlines to the tumour edge" check box for a package's
    card outline growth (``{"min_hu", "max_hu", "max_distance_mm"}``; None when it has none)."""
    if not outline_growth:
        return False, "The selected model package has no outline growth: lesion outlines follow the probability threshold."
    return True, ("The network finds a tumour's dense core but stops short of its edge. Checked: each kept lesion "
                  f"grows up to {float(outline_growth['max_distance_mm']):g} mm into connected voxels of "
                  f"{float(outline_growth['min_hu']):g} to {float(outline_growth['max_hu']):g} HU (partial-volume rim, "
                  "ground-glass halo), as the model card says; which lesions are reported does not change. "
                  "Unchecked: the outline of the probability threshold.")


def magnified_look_text(look: Mapping | None) -> tuple[bool, str]:
    """(enabled, tooltip) of the "Magnified second look" check box for a package's card
    ``magnified_look`` section (``{"zoom", "cutoff", ...}``; None when it has none)."""
    if not look:
        return False, "The selected model package has no magnified second look."
    return True, (f"Checked: the zone networks look at the CT a second time, magnified {float(look['zoom']):g} times, "
                  "where small nodules look like the larger ones they find; a candidate only that look sees is kept "
                  f"when a classifier scores it at least {float(look['cutoff']):.2f} (the model card's cut-off). "
                  f"It works on about {float(look['zoom']) ** 3:.1f} times the voxels of the first look (the zoom "
                  "cubed): at zoom 1.5 a run takes three to five times as long. "
                  + ("Each lesion found also takes in what the magnified look marks touching it (outlines only: "
                     "it adds no lesion). " if look.get("join_touching") else "")
                  + "Unchecked: one look at the card's own scale. "
                  "Takes effect on Apply (Update lesions re-uses the kept map, with what the last run's look added).")


def candidate_check_text(cutoff: float | None, demo: bool = False) -> tuple[bool, str]:
    """(enabled, tooltip) of the "Candidate check" check box for a package's candidate
    classifier (``cutoff``: its card's cut-off; None when the package has none; ``demo``: a
    demo package, whose classifier was trained on synthetic phantoms)."""
    if cutoff is None:
        return False, ("The selected model package has no candidate classifier: every candidate that passes the "
                       "limits is a lesion.")
    tip = ("A second, small network looks at the image around every lesion candidate that passes the limits (CT, "
           "tumour probability and the candidate's outline, 48 mm around it) and rejects those it judges false: "
           f"a score below the model card's cut-off of {float(cutoff):.2f}. Unchecked: every candidate passing the "
           "limits is kept (more sensitive, more false findings).")
    if demo:
        tip += " Demo classifier: trained on synthetic phantoms only, a demonstration, not for clinical use."
    return True, tip


#: Decimals of the "Candidate cut-off" slider (it shows the card's cut-off rounded to them).
CUTOFF_DECIMALS = 2
#: What the slider holds for a package without a candidate classifier (it is disabled then).
NO_CLASSIFIER_CUTOFF = 0.5


def candidate_cutoff_text(cutoff: float | None, points: tuple = (), demo: bool = False) -> tuple[bool, str]:
    """(enabled, tooltip) of the "Candidate cut-off" slider for a package's classifier
    (``cutoff``: its card's; None when it has none; ``points``: the card's calibration points
    (cut-off, sensitivity >= 10 mm, false positives per case), which the tooltip quotes so the
    user sees what moving it buys; ``demo``: they were measured on synthetic phantoms)."""
    if cutoff is None:
        return False, "The selected model package has no candidate classifier, so there is no cut-off to set."
    tip = (f"The candidate classifier's cut-off (the model card's: {float(cutoff):.3f}). Lower keeps more "
           "candidates (more sensitive, more false findings), higher fewer; every lesion's score is in the "
           "lesion table (Candidate score). Used only while 'Candidate check' is on.")
    if points:
        quoted = ", ".join(f"{c:.2f} → {s:.2f} at {fp:.2f}" for c, s, fp in points)
        tip += (" On the model card's calibration cases, cut-off → sensitivity for tumours of 10 mm or more at "
                "false positives per case: " + quoted + "."
                + (" Synthetic phantoms: not clinical accuracy." if demo else ""))
    return True, tip


def candidate_cutoff_request(value: float, card_cutoff: float | None, enabled: bool = True) -> float | None:
    """The cut-off to ask the core for: None — the card's own, exactly — when the check is off,
    the package has no classifier, or the slider still shows the card's cut-off (which it
    rounds to ``CUTOFF_DECIMALS``); else the user's ``value``."""
    if not enabled or card_cutoff is None:
        return None
    if abs(float(value) - float(card_cutoff)) <= 0.5 * 10.0 ** -CUTOFF_DECIMALS + 1e-12:
        return None
    return float(value)


def card_defaults(package) -> dict:
    """Parameter-node values a newly selected model package sets (its card's operating point;
    the card's zone limits, outline growth and candidate classifier switched on). ``package``:
    a ``PackageInfo``."""
    return {"modelPath": str(package.path), "threshold": package.threshold, "minLesionMm3": package.min_lesion_mm3,
            "minPeakProbability": package.min_peak_probability,
            "maxElongation": elongation_for_gui(package.max_elongation),
            "maxMeanHu": mean_hu_for_gui(package.max_mean_hu), "zoneOverlapMm": package.zone_overlap_mm,
            "zoneLimits": True, "outlineGrowth": True, "candidateCheck": True, "magnifiedLook": True,
            "candidateCutoff": (NO_CLASSIFIER_CUTOFF if package.candidate_check_cutoff is None
                                else package.candidate_check_cutoff)}


def card_check_boxes(package) -> dict[str, tuple[bool, str]]:
    """(enabled, tooltip) of the check boxes that switch a card's options, by widget name
    (``package`` None: nothing selected, all disabled)."""
    return {"zoneLimitsCheckBox": zone_limits_text(package.zone_limits if package else {}),
            "outlineGrowthCheckBox": outline_growth_text(package.outline_growth if package else None),
            "candidateCheckCheckBox": candidate_check_text(package.candidate_check_cutoff if package else None,
                                                           bool(package and package.demo)),
            "magnifiedLookCheckBox": magnified_look_text(package.magnified_look if package else None),
            "candidateCutoffSliderWidget": candidate_cutoff_text(
                package.candidate_check_cutoff if package else None,
                package.candidate_cutoff_points if package else (), bool(package and package.demo))}
