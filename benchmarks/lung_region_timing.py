"""What working in the lungs' box saves: the lung-region limit and the lung finder's depth test.

Each network pass ends by zeroing the probability farther than the card's margin from the lungs
(:func:`lungtumorseg.postprocess.restrict_to_lung_region`), and the lung finder places each
air component front-to-back by its centroid (``lungtumorseg.lungs._relative_depths``). Both
used to measure over the whole canonical grid; since core 0.9.1 they measure inside the lungs'
grown box and each component's own box. On the clinical-size phantom (512×512×301), on the
networks' 1.5 mm grid and on the magnified look's 1.0 mm grid, this times the whole-grid
computations (the baseline, written out here as they were) against the product's, checks that
the results are identical, and prints the ratios measured in this run. Writes
``benchmarks/results/lung_region_timing.json``.

Run: ``python benchmarks/lung_region_timing.py [--seed S] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from clinical_case import add_timing_arguments, clinical_phantom, median_seconds  # noqa: E402
from lungtumorseg.lungs import AIR_THRESHOLD_HU, _relative_depths, find_lungs  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from lungtumorseg.postprocess import restrict_to_lung_region  # noqa: E402
from lungtumorseg.preprocess import to_canonical  # noqa: E402


def whole_grid_restrict(probability: np.ndarray, lung: np.ndarray, spacing_mm, margin_mm: float) -> np.ndarray:
    """The baseline: the distance map of the whole grid."""
    distance = ndi.distance_transform_edt(~lung, sampling=(spacing_mm[2], spacing_mm[1], spacing_mm[0]))
    out = probability.copy()
    out[distance > margin_mm] = 0.0
    return out


def whole_grid_depths(labels: np.ndarray, ids: list[int], body: np.ndarray) -> list[float]:
    """The baseline: each centroid summed over the whole grid."""
    centroids = ndi.center_of_mass(labels > 0, labels, index=ids)
    body_y = np.nonzero(body.any(axis=(0, 2)))[0]
    front, back = body_y.min(), body_y.max()
    return [float((c[1] - front) / max(back - front, 1)) for c in centroids]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_timing_arguments(parser)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    card = load_package(args.model).card
    nominal = tuple(card.spacing_mm)
    zoom = float(card["magnified_look"]["zoom"])
    margin_mm = float(card["zones"]["margin_mm"])
    case = clinical_phantom(args.seed)
    print(f"phantom {case.image.GetSize()} at {case.image.GetSpacing()} mm")
    rng = np.random.default_rng(args.seed)
    results = {"image_size": list(case.image.GetSize()), "spacing_mm": list(case.image.GetSpacing()),
               "repeats": args.repeats, "grids": {}}
    for name, scale in (("network grid", 1.0), ("magnified look grid", zoom)):
        grid = tuple(s / scale for s in nominal)
        hu = sitk.GetArrayFromImage(to_canonical(case.image, grid))
        lungs = find_lungs(hu, grid)
        margin = margin_mm * scale  # as network_pass passes it: millimetres as the networks see them
        probability = rng.random(hu.shape, dtype=np.float32)
        base_s, base = median_seconds(lambda: whole_grid_restrict(probability, lungs.mask, nominal, margin), args.repeats)
        new_s, new = median_seconds(lambda: restrict_to_lung_region(probability, lungs.mask, nominal, margin), args.repeats)
        identical_restrict = bool(np.array_equal(base, new))
        air = ndi.uniform_filter(hu.astype(np.float32), size=2) < AIR_THRESHOLD_HU
        labels, n = ndi.label(air)
        ids = [int(i) + 1 for i in np.argsort(-np.bincount(labels.ravel())[1:])[:6]]
        boxes = ndi.find_objects(labels)
        base_d_s, base_d = median_seconds(lambda: whole_grid_depths(labels, ids, ~air), args.repeats)
        new_d_s, new_d = median_seconds(lambda: _relative_depths(labels, ids, boxes, ~air), args.repeats)
        identical_depths = base_d == new_d
        results["grids"][name] = {
            "canonical_shape": list(hu.shape), "grid_mm": list(grid), "margin_mm_as_passed": margin,
            "restrict_whole_grid_seconds": round(base_s, 3), "restrict_lung_box_seconds": round(new_s, 3),
            "restrict_speed_up": round(base_s / new_s, 2), "restrict_identical": identical_restrict,
            "depths_whole_grid_seconds": round(base_d_s, 3), "depths_component_box_seconds": round(new_d_s, 3),
            "depths_speed_up": round(base_d_s / new_d_s, 2), "depths_identical": identical_depths}
        print(f"{name} {hu.shape}: lung-region limit {base_s:.2f} s -> {new_s:.2f} s ({base_s / new_s:.1f}x, "
              f"identical {identical_restrict}); depths {base_d_s:.2f} s -> {new_d_s:.2f} s "
              f"({base_d_s / new_d_s:.1f}x, identical {identical_depths})")
    out = ROOT / "benchmarks" / "results" / "lung_region_timing.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")
    return 0 if all(g["restrict_identical"] and g["depths_identical"] for g in results["grids"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
