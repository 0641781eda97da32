"""Every candidate the shipped package's classifier judges, with its score and peak (PLAN.md).

For each case of an MSD-layout folder: 0.10.0's probability map (computed by the pipeline and
kept in CACHE, or read from it), the candidates as ``evaluation.froc.scored_candidates``
labels them (components >= 30 mm3 at the card threshold, as the pipeline's candidate check
sees them), each with the classifier's score and its peak probability, and which truth
tumours each touches. Written as one JSON per folder.

Usage: candidates.py DATA CACHE OUT.json [THREADS]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.evaluation.froc import scored_candidates  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402


def label_peaks(labels: sitk.Image, probability: sitk.Image) -> dict[int, float]:
    """Label -> highest probability inside it; ``labels`` may be a crop of ``probability``'s grid."""
    index = probability.TransformPhysicalPointToIndex(labels.GetOrigin())
    stats = sitk.LabelStatisticsImageFilter()
    stats.SetUseHistograms(False)
    stats.Execute(sitk.Cast(sitk.RegionOfInterest(probability, labels.GetSize(), index), sitk.sitkFloat32), labels)
    return {int(k): float(stats.GetMaximum(k)) for k in stats.GetLabels() if k}


def main() -> None:
    data, cache, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    import torch

    torch.set_num_threads(threads)
    package = load_package(default_package_dir())
    check = package.candidate_check()
    threshold = float(package.card.raw["postprocessing"]["threshold"])
    rule = package.card.lesion_filter
    key = cache_key(package, list(package.card.mirror_axes))
    cases = []
    for i, case in enumerate(discover_cases(data), 1):
        image = read_image(case.image)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        prob, lung_z = cached_probability(case, package, threads, cache, key)
        prob_image = sitk.GetImageFromArray(prob)
        prob_image.CopyInformation(image)
        peaks: dict[int, float] = {}

        def score(labels: sitk.Image, ct: sitk.Image, probability: sitk.Image) -> dict[int, float]:
            peaks.update(label_peaks(labels, probability))
            return check.scores(labels, ct, probability)

        scored = scored_candidates(prob_image, image, truth, threshold, rule, score, lung_z)
        n = scored.scores.size
        cases.append({"case": case.name, "scores": scored.scores.tolist(),
                      "peaks": [peaks[k] for k in range(1, n + 1)],
                      "touches": np.asarray(scored.touches, dtype=int).tolist(), "large": scored.large.tolist()})
        print(f"{i} {case.name}: {n} candidates, {scored.n_truth} tumours", flush=True)
    out.write_text(json.dumps({"data": str(data), "cutoff": check.cutoff, "threshold": threshold,
                               "cases": cases}) + "\n")


if __name__ == "__main__":
    main()
