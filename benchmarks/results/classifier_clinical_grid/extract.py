"""Candidates of one phantom set and the product's patches around them (clinical-grid plan).

For every case of an MSD folder whose normal map ``maps.py`` cached: the components (face
connectivity) of the map at the card threshold with >= 30 mm3 — the candidates the package's
classifier judges — and their 3-channel patches made by the product's own
``lungtumorseg.candidate_check.candidate_patches`` (whole-percent probability, float16). Per
candidate: which truth tumours it touches, volume, peak, mean HU. One ``<case>.npz`` per case,
in the layout ``../candidate_classifier_experiment/gate.py`` counts (``card_keeps`` is all
True: there are no other limits to compare with here).

Usage: extract.py DATA CACHE OUT [THRESHOLD]

THRESHOLD (default: the card's) is for diagnosis only (RESULTS.md: candidates at a lower threshold).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lungtumorseg.candidate_check import PATCH_VOXELS, candidate_patches  # noqa: E402
from lungtumorseg.evaluation.candidates import component_measures  # noqa: E402
from lungtumorseg.evaluation.lesions import equivalent_diameter_mm, label_components  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402
from maps import map_key  # noqa: E402

MIN_MM3 = 30.0


def candidate_labels(prob: np.ndarray, threshold: float, spacing) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The candidates of a map: components (face connectivity) at ``threshold`` with >= 30 mm3,
    numbered 1..K in component order (0 elsewhere), and the volume (mm3) and peak of each."""
    lab, n = label_components(prob >= threshold)
    volume, peak, _ = component_measures(lab, n, prob, spacing)
    keep = np.nonzero(volume >= MIN_MM3)[0]
    number_of = np.zeros(n + 1, np.uint16)
    number_of[keep + 1] = np.arange(1, len(keep) + 1)
    return number_of[lab], keep, volume[keep], peak[keep]


def case_candidates(case, package, key: str, cache: Path, threshold: float | None = None) -> dict[str, np.ndarray]:
    ct = read_image(case.image)
    prob, _ = cached_probability(case, package, 1, cache, key)
    threshold = float(package.card["postprocessing"]["threshold"]) if threshold is None else threshold
    spacing = ct.GetSpacing()
    voxel_mm3 = float(np.prod(spacing))
    truth_lab, n_truth = label_components(sitk.GetArrayFromImage(read_image(case.label)))
    truth_d = np.array([equivalent_diameter_mm(v * voxel_mm3)
                        for v in np.bincount(truth_lab.ravel(), minlength=n_truth + 1)[1:]])
    candidates, keep, volume, peak = candidate_labels(prob, threshold, spacing)
    count = len(keep)
    labels = sitk.GetImageFromArray(candidates)
    labels.CopyInformation(ct)
    prob_img = sitk.GetImageFromArray(prob)
    prob_img.CopyInformation(ct)
    present, patches = candidate_patches(labels, ct, prob_img)
    assert present == list(range(1, count + 1))
    # which truth tumours each candidate touches, and its mean HU, in one pass over the volume each
    inside = candidates > 0
    touched = np.zeros((count, n_truth), bool)
    pairs = np.unique(np.stack([candidates[inside], truth_lab[inside]]), axis=1)
    pairs = pairs[:, pairs[1] > 0]
    touched[pairs[0].astype(int) - 1, pairs[1] - 1] = True
    hu = sitk.GetArrayViewFromImage(ct)
    mean_hu = ndi.mean(hu, candidates, np.arange(1, count + 1)) if count else np.zeros(0)
    feats = np.column_stack([volume, peak, mean_hu, np.full(count, min(spacing)), np.full(count, max(spacing))])
    return {
        "patches": patches.astype(np.float16) if count else np.zeros((0, 3) + (PATCH_VOXELS,) * 3, np.float16),
        "touched": touched,
        "features": feats.astype(np.float64).reshape(-1, 5),
        "card_keeps": np.ones(count, bool),
        "truth_diameter_mm": truth_d,
    }


def main() -> None:
    data, cache, out = (Path(a) for a in sys.argv[1:4])
    threshold = float(sys.argv[4]) if len(sys.argv) > 4 else None
    out.mkdir(parents=True, exist_ok=True)
    package = load_package(default_package_dir())
    key = map_key(package)
    mapped = [case for case in discover_cases(data) if (cache / f"{case.name}-{key}.json").is_file()]
    todo = [case for case in mapped if not (out / f"{case.name}.npz").exists()]
    print(f"{len(mapped)} cases mapped, {len(todo)} to extract", flush=True)
    for case in todo:
        found = case_candidates(case, package, key, cache, threshold)
        np.savez_compressed(out / f"{case.name}.npz", **found)
        print(f"{case.name}: {len(found['card_keeps'])} candidates, {int(found['touched'].any(1).sum())} true, "
              f"{len(found['truth_diameter_mm'])} tumours", flush=True)


if __name__ == "__main__":
    main()
