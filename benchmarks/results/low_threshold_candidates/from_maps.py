"""The real post-processing of a package (or of a threshold and candidate check given
directly) on cached probability maps, scored with the benchmark's own case metrics.

The maps are those ``heldout_phantoms.py --cache`` and the calibration scripts keep
(float16, input grid); only the post-processing differs between the arms compared, so the
same maps serve every arm.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.candidate_check import CandidateCheck  # noqa: E402
from lungtumorseg.evaluation.case import evaluate_prediction  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.postprocess import LesionFilter  # noqa: E402
from lungtumorseg.relabel import MeasureContext, lesions_from_probability  # noqa: E402
from lungtumorseg.training.dataset import CasePaths  # noqa: E402


@dataclass
class Arm:
    """One operating point: threshold, lesion filter and (per case) candidate check."""

    name: str
    threshold: float
    lesion_filter: LesionFilter
    check_of: Callable[[str], Optional[CandidateCheck]]  # case name -> check (per-fold cut-offs)


def evaluate_case(case: CasePaths, package: Any, key: str, cache: Path, arms: list[Arm]) -> dict[str, dict]:
    """Each arm's ``evaluate_prediction`` of one case from its cached map."""
    ct = read_image(case.image)
    truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
    prob, lung_z = cached_probability(case, package, 1, cache, key)
    prob_img = sitk.GetImageFromArray(prob)
    prob_img.CopyInformation(ct)
    out = {}
    for arm in arms:
        labels, _ = lesions_from_probability(prob_img, ct, arm.threshold, arm.lesion_filter,
                                             MeasureContext(lung_z, None), arm.check_of(case.name))
        out[arm.name] = evaluate_prediction(sitk.GetArrayFromImage(labels), prob, truth, ct.GetSpacing(),
                                            origin=ct.GetOrigin(), direction=ct.GetDirection(),
                                            lung_z_mm=lung_z, case=case.name)
    return out


def evaluate_arms(cases: list[CasePaths], package: Any, key: str, cache: Path, arms: list[Arm],
                  evaluations: dict[str, list] | None = None) -> dict[str, list]:
    """:func:`evaluate_case` over ``cases``, appended per arm to ``evaluations`` (a new dict when
    None), one line per case printed: each arm's (Dice, found, tumours, false positives)."""
    evaluations = {arm.name: [] for arm in arms} if evaluations is None else evaluations
    for case in cases:
        ev = evaluate_case(case, package, key, cache, arms)
        for name, evaluation in ev.items():
            evaluations[name].append(evaluation)
        print(case.name, {k: (round(v["voxel"]["dice"], 3), v["detection"]["n_detected"],
                              v["detection"]["n_truth_lesions"], v["detection"]["n_false_positive"])
                          for k, v in ev.items()}, flush=True)
    return evaluations


def summarise(evaluations: list[dict]) -> dict[str, float]:
    """The issue's four measures (and counts) over a list of case evaluations."""
    dice = [e["voxel"]["dice"] for e in evaluations if e["detection"]["n_truth_lesions"]]
    large = found_large = fp = clean = free = found = n_truth = 0
    for e in evaluations:
        d = e["detection"]
        fp += d["n_false_positive"]
        found += d["n_detected"]
        n_truth += d["n_truth_lesions"]
        for name in ("10-20mm", "20-30mm", ">=30mm"):
            large += d["by_size"][name]["n_truth"]
            found_large += d["by_size"][name]["n_detected"]
        if d["n_truth_lesions"] == 0:
            free += 1
            clean += int(d["n_pred_lesions"] == 0)
    return {"mean_dice_tumour_cases": float(np.mean(dice)), "sens_ge10": found_large / max(large, 1),
            "found_ge10": found_large, "n_ge10": large, "fp_per_case": fp / len(evaluations), "fp": fp,
            "clean": clean, "tumour_free": free, "found": found, "n_truth": n_truth, "cases": len(evaluations)}
