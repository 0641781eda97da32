"""Diagnosis: do the zone networks (of the package without a look, 0.10.0: ``base_package``,
``$ZOOM_TTA_PACKAGE``) answer small tumours when the CT is shown to them
magnified (test-time zoom)?

The networks were trained on a 1.5 mm grid and answer every calibration tumour of 20 mm and
more but only ~2/3 of the part-solid ones of 10-16 mm. Resampling the CT to a finer grid
(1.5 mm / ZOOM) while every input channel is computed as if the voxels were still 1.5 mm
shows a 12 mm nodule as an 18 mm (ZOOM 1.5) or 24 mm (ZOOM 2) one. The lung mask is found in
true millimetres (anatomy, not network scale); the blob channel is given the nominal spacing
so its scales are the ones the networks were trained with, in zoomed voxels.

For each case: every truth tumour's peak probability (zoomed map, mapped back to the input
grid), and the number of components of the map at THRESHOLD that touch no truth tumour
(candidates a detector would have to reject), beside the same for the card's own map (cache).

Usage: zoom_probe.py ZOOM OUT.json MAPS DATA:CACHE:case,case [...]
(case list "*": every case; MAPS: folder where each zoomed map is kept as <data>-<case>.npy, float16, and reused)
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))
sys.path.insert(0, str(HERE.parent / "heldout48"))

from lungtumorseg.evaluation.lesions import label_components  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import ModelPackage  # noqa: E402
from base_package import base_package  # noqa: E402  (0.10.0: the package without a look)
from lungtumorseg.network_pass import network_pass  # noqa: E402
from lungtumorseg.progress import ProgressSpan  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402
from lungtumorseg.zones import ZoneSpec  # noqa: E402
from misses import large_tumours  # noqa: E402

THRESHOLD = 0.45


def zoomed_probability(image: sitk.Image, package: ModelPackage, zoom: float) -> np.ndarray:
    """The superposed zone probability of ``image`` seen ``zoom`` times magnified, on the input
    grid: the product's own magnified pass (``lungtumorseg.network_pass``)."""
    z = package.card["zones"]
    spec = ZoneSpec(overlap_mm=float(z["overlap_mm"]), margin_mm=float(z["margin_mm"]), context_mm=float(z["context_mm"]))
    look = network_pass(image, package, spec, ProgressSpan(None, 0.0, 1.0), zoom=zoom)
    if look.probability is None:
        return np.zeros(sitk.GetArrayViewFromImage(image).shape, np.float32)
    return sitk.GetArrayFromImage(look.probability)


def false_components(prob: np.ndarray, truth: np.ndarray) -> int:
    lab, n = label_components(prob >= THRESHOLD)
    hit = set(np.unique(lab[truth])) - {0}
    return n - len(hit)


def main() -> None:
    zoom, out, maps = float(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    maps.mkdir(parents=True, exist_ok=True)
    package = base_package()
    key = cache_key(package, list(package.card.mirror_axes))
    rows = []
    for spec in sys.argv[4:]:
        data, cache, names = spec.split(":")
        wanted = set(names.split(","))
        for case in discover_cases(Path(data)):
            if "*" not in wanted and case.name not in wanted:
                continue
            image = read_image(case.image)
            truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
            base, _ = cached_probability(case, package, 1, Path(cache), key)
            t0 = time.perf_counter()
            kept = maps / f"{Path(data).name}-{case.name}.npy"
            if kept.is_file():
                zoomed = np.load(kept).astype(np.float32)
            else:
                zoomed = zoomed_probability(image, package, zoom)
                np.save(kept, zoomed.astype(np.float16))
            row = {"case": f"{Path(data).name}/{case.name}", "seconds": round(time.perf_counter() - t0, 1),
                   "false_components": {"card": false_components(base, truth), "zoom": false_components(zoomed, truth)},
                   "tumours": []}
            for inside, d, t in large_tumours(truth, image, Path(data) / "meta" / f"{case.name}.json", 0.0):
                row["tumours"].append({"d": round(d, 1), "kind": t.get("kind"), "zone": t.get("zone"),
                                       "peak_card": round(float(base[inside].max()), 3),
                                       "peak_zoom": round(float(zoomed[inside].max()), 3)})
            rows.append(row)
            print(json.dumps(row), flush=True)
            out.write_text(json.dumps({"zoom": zoom, "threshold": THRESHOLD, "cases": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
