"""Diagnosis behind PLAN.md: for every truth tumour >= 10 mm of the calibration phantoms, the
phantom's kind, location and zone, 0.10.0's peak probability inside it, the share of its voxels
at the card threshold, and the share inside the classical lung mask (the networks' lung channel,
``lungtumorseg.lungs.find_lungs`` on the model grid, mapped back to the input grid).

Usage: lungmask_diagnosis.py OUT.json DATA:CACHE [DATA:CACHE ...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))
sys.path.insert(0, str(HERE.parent / "heldout48"))

from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.lungs import find_lungs  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.preprocess import to_canonical, to_input_grid  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402
from misses import large_tumours  # noqa: E402

THRESHOLD = 0.45


def lung_mask_on_input_grid(image: sitk.Image, spacing: tuple[float, float, float]) -> np.ndarray:
    canonical = to_canonical(image, spacing)
    lungs = find_lungs(sitk.GetArrayFromImage(canonical), spacing)
    mask = sitk.GetImageFromArray(lungs.mask.astype(np.float32))
    mask.CopyInformation(canonical)
    return sitk.GetArrayFromImage(to_input_grid(mask, image)) > 0.5


def main() -> None:
    package = load_package(default_package_dir())
    key = cache_key(package, list(package.card.mirror_axes))
    rows = []
    for pair in sys.argv[2:]:
        data, cache = (Path(p) for p in pair.split(":"))
        for case in discover_cases(data):
            image = read_image(case.image)
            prob, _ = cached_probability(case, package, 1, cache, key)
            in_lung = lung_mask_on_input_grid(image, package.card.spacing_mm)
            truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
            for inside, d, t in large_tumours(truth, image, data / "meta" / f"{case.name}.json"):
                rows.append({"case": f"{data.name}/{case.name}", "kind": t["kind"], "location": t["location"],
                             "zone": t["zone"], "d": round(d, 1), "peak": round(float(prob[inside].max()), 3),
                             "share": round(float((prob[inside] >= THRESHOLD).mean()), 3),
                             "in_lung": round(float(in_lung[inside].mean()), 3)})
                print(rows[-1], flush=True)
    Path(sys.argv[1]).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
