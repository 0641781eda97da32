"""Diagnosis only: the calibration tumours >= 10 mm that no candidate touches (PLAN.md's gate).

For each: its kind, zone and location from the phantom's meta (nearest tumour centre), its
measured diameter, the networks' peak probability inside it and the volume of it at or above
the card threshold (a candidate needs >= 30 mm3 there).

Usage: misses.py OUT.json DATA:CACHE:CAND [...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lungtumorseg.evaluation.lesions import equivalent_diameter_mm, label_components  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402
from maps import map_key  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1])
    package = load_package(default_package_dir())
    key = map_key(package)
    threshold = float(package.card["postprocessing"]["threshold"])
    rows = []
    for spec in sys.argv[2:]:
        data, cache, cand = (Path(p) for p in spec.split(":"))
        for case in discover_cases(data):
            found = np.load(cand / f"{case.name}.npz")
            missed = [i for i, d in enumerate(found["truth_diameter_mm"])
                      if d >= 10.0 and not (found["touched"][:, i].any() if len(found["touched"]) else False)]
            if not missed:
                continue
            label = read_image(case.label)
            truth, _ = label_components(sitk.GetArrayFromImage(label))
            prob, _ = cached_probability(case, package, 1, cache, key)
            voxel_mm3 = float(np.prod(label.GetSpacing()))
            meta = json.loads((data / "meta" / f"{case.name}.json").read_text())
            for i in missed:
                inside = truth == i + 1
                centre = label.TransformContinuousIndexToPhysicalPoint(
                    tuple(float(v) for v in np.argwhere(inside).mean(0)[::-1]))
                nearest = min(meta["tumours"], key=lambda t: np.linalg.norm(np.subtract(t["centre_lps_mm"], centre)))
                rows.append({"set": data.name, "case": case.name, "kind": nearest["kind"], "zone": nearest["zone"],
                             "location": nearest["location"], "nominal_mm": nearest["diameter_mm"],
                             "measured_mm": round(equivalent_diameter_mm(inside.sum() * voxel_mm3), 1),
                             "peak": round(float(prob[inside].max()), 3),
                             "mm3_at_threshold": round(float((prob[inside] >= threshold).sum() * voxel_mm3), 1),
                             "slice_mm": round(max(label.GetSpacing()), 2)})
                print(rows[-1], flush=True)
    out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
