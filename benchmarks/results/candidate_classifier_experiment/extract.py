"""Candidates of one phantom set and the patches around them (candidate-classifier experiment).

For every case of an MSD folder whose 0.9.0 probability map is cached: the components of
the map at the card threshold (face connectivity, >= 30 mm3), whether each touches a truth
tumour (and which), whether the card's limits keep it (``label_lesions`` with the card's
rule, growth off), its measures, and a 3-channel 32^3 patch of 1.5 mm around its centroid
(CT, probability, the component's mask) in LPS axes. One ``<case>.npz`` per case.

Usage: extract.py DATA CACHE OUT [THRESHOLD]

THRESHOLD (default: the card's) was added in session 25 for the lower-threshold experiment
(``../low_threshold_candidates/``); without it the script does what it did in session 24.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.evaluation.candidates import component_measures  # noqa: E402
from lungtumorseg.evaluation.lesions import equivalent_diameter_mm, label_components  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.postprocess import label_lesions  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

PATCH = 32
PATCH_MM = 1.5
MIN_MM3 = 30.0
HU_RANGE = (-1000.0, 400.0)


def patch_grid(centre_lps: np.ndarray) -> sitk.Image:
    """A 32^3 reference grid of 1.5 mm, identity direction, centred on ``centre_lps``."""
    ref = sitk.Image([PATCH] * 3, sitk.sitkFloat32)
    ref.SetSpacing([PATCH_MM] * 3)
    ref.SetOrigin(tuple(float(c - (PATCH - 1) / 2 * PATCH_MM) for c in centre_lps))
    return ref


def sample(image: sitk.Image, ref: sitk.Image, interpolator: int, default: float) -> np.ndarray:
    out = sitk.Resample(image, ref, sitk.Transform(), interpolator, default, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(out)


def case_candidates(case, package, key: str, cache: Path, threshold: float | None = None) -> dict[str, np.ndarray]:
    ct = read_image(case.image)
    prob, _ = cached_probability(case, package, 1, cache, key)
    threshold = float(package.card["postprocessing"]["threshold"]) if threshold is None else threshold
    rule = dataclasses.replace(package.card.lesion_filter, outline_growth=None)
    prob_img = sitk.GetImageFromArray(prob)
    prob_img.CopyInformation(ct)
    kept = sitk.GetArrayFromImage(label_lesions(prob_img, threshold, rule, ct=ct)) > 0
    hu = sitk.GetArrayFromImage(ct).astype(np.float32)
    truth_lab, n_truth = label_components(sitk.GetArrayFromImage(read_image(case.label)))
    spacing = ct.GetSpacing()
    voxel_mm3 = float(np.prod(spacing))
    truth_d = np.array([equivalent_diameter_mm(v * voxel_mm3)
                        for v in np.bincount(truth_lab.ravel(), minlength=n_truth + 1)[1:]])
    lab, n = label_components(prob >= threshold)
    volume, peak, elong = component_measures(lab, n, prob, spacing)
    keep = np.nonzero(volume >= MIN_MM3)[0]
    ct_norm = sitk.Cast(ct, sitk.sitkFloat32)
    patches, touched, feats, passes = [], [], [], []
    for k in keep:
        idx = np.argwhere(lab == k + 1)
        centre = ct.TransformContinuousIndexToPhysicalPoint(tuple(float(v) for v in idx.mean(0)[::-1]))
        ref = patch_grid(np.asarray(centre))
        mask = sitk.GetImageFromArray((lab == k + 1).astype(np.uint8))
        mask.CopyInformation(ct)
        ct_p = (np.clip(sample(ct_norm, ref, sitk.sitkLinear, -1000.0), *HU_RANGE) - HU_RANGE[0]) / (HU_RANGE[1] - HU_RANGE[0])
        patches.append(np.stack([ct_p, sample(prob_img, ref, sitk.sitkLinear, 0.0),
                                 sample(mask, ref, sitk.sitkNearestNeighbor, 0.0)]).astype(np.float16))
        t = np.unique(truth_lab[tuple(idx.T)])
        touched.append(np.zeros(n_truth, bool))
        touched[-1][t[t > 0] - 1] = True
        feats.append([volume[k], peak[k], elong[k], float(hu[tuple(idx.T)].mean()), min(spacing), max(spacing)])
        passes.append(bool(kept[tuple(idx.T)].any()))
    return {
        "patches": np.stack(patches) if patches else np.zeros((0, 3, PATCH, PATCH, PATCH), np.float16),
        "touched": np.stack(touched) if touched else np.zeros((0, n_truth), bool),
        "features": np.asarray(feats, np.float64).reshape(-1, 6),
        "card_keeps": np.asarray(passes, bool),
        "truth_diameter_mm": truth_d,
    }


def main() -> None:
    data, cache, out = (Path(a) for a in sys.argv[1:4])
    threshold = float(sys.argv[4]) if len(sys.argv) > 4 else None
    out.mkdir(parents=True, exist_ok=True)
    package = load_package(default_package_dir())
    key = cache_key(package, list(package.card.mirror_axes))
    for case in discover_cases(data):
        target = out / f"{case.name}.npz"
        if target.exists():
            continue
        if not (cache / f"{case.name}-{key}.json").is_file():
            print(case.name, "has no cached map yet: skipped", flush=True)
            continue
        c = case_candidates(case, package, key, cache, threshold)
        np.savez_compressed(target, **c)
        print(case.name, len(c["card_keeps"]), "candidates,", int(c["touched"].any(1).sum()), "true,",
              int(c["card_keeps"].sum()), "kept by the card", flush=True)


if __name__ == "__main__":
    main()
