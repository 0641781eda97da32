"""Diagnosis for the next experiment: how 0.10.0's networks answer each kind of tumour, on the
160 mining phantoms of this experiment (their maps were computed anyway). For every truth
tumour >= 10 mm: the phantom's kind, location and slice thickness (its meta file; nearest
centre, ``../heldout48/misses.py``), the peak probability inside it and the share of its voxels
at the card threshold.

Usage: response_by_kind.py OUT.json DATA:CACHE [DATA:CACHE ...]
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
sys.path.insert(0, str(ROOT / "benchmarks" / "results" / "heldout48"))

from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402
from misses import large_tumours  # noqa: E402

THRESHOLD = 0.45
RESPONSE = 0.5


def slice_group(mm: float) -> str:
    return "<= 2.5 mm" if mm <= 2.5 else ("3-4 mm" if mm <= 4.0 else "5 mm")


def main() -> None:
    out = Path(sys.argv[1])
    package = load_package(default_package_dir())
    key = cache_key(package, list(package.card.mirror_axes))
    rows = []
    for pair in sys.argv[2:]:
        data, cache = (Path(p) for p in pair.split(":"))
        for case in discover_cases(data):
            image = read_image(case.image)
            prob, _ = cached_probability(case, package, 1, cache, key)
            truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
            for inside, d, t in large_tumours(truth, image, data / "meta" / f"{case.name}.json"):
                rows.append({"set": data.name, "case": case.name, "kind": t["kind"], "location": t["location"],
                             "slices": slice_group(float(t["slice_thickness_mm"])), "diameter_mm": round(d, 1),
                             "peak": round(float(prob[inside].max()), 3),
                             "share": round(float((prob[inside] >= THRESHOLD).mean()), 3)})
    groups: dict = defaultdict(list)
    for r in rows:
        for g in (("kind", r["kind"]), ("slices", r["slices"]), ("location", r["location"]),
                  ("kind x slices", f"{r['kind']} / {r['slices']}")):
            groups[g].append(r)
    table = {f"{a}: {b}": {"tumours": len(rs), "responded": sum(r["peak"] >= RESPONSE for r in rs),
                           "any_voxel_at_threshold": sum(r["share"] > 0 for r in rs),
                           "median_share_at_threshold": float(np.median([r["share"] for r in rs]))}
             for (a, b), rs in sorted(groups.items())}
    out.write_text(json.dumps({"threshold": THRESHOLD, "response_peak": RESPONSE, "groups": table, "tumours": rows},
                              indent=1) + "\n")
    for name, v in table.items():
        print(f"{name:40s} {v['tumours']:4d}  responded {v['responded'] / v['tumours']:.2f}  "
              f"any at 0.45 {v['any_voxel_at_threshold'] / v['tumours']:.2f}  median share {v['median_share_at_threshold']:.2f}")


if __name__ == "__main__":
    main()
