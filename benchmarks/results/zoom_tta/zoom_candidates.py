"""Diagnosis: the candidates only the zoomed map offers, and how the shipped candidate
classifier scores them.

For each case with a kept zoomed map (zoom_probe.py): components (face connectivity) of the
zoomed map at THRESHOLD of at least 30 mm3 that do not overlap any component of the card's
own map at THRESHOLD. Each gets: does it touch a truth tumour, its volume, its peak in both
maps, and the shipped classifier's score with the zoomed map and with the card's map (the
maximum of both) as the patch's probability channel.

Usage: zoom_candidates.py OUT.json MAPS DATA:CACHE [...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))

from lungtumorseg.evaluation.lesions import label_components  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from base_package import base_package  # noqa: E402  (0.10.0: the package without a look)
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

THRESHOLD = 0.45
MIN_MM3 = 30.0


def as_image(values: np.ndarray, like: sitk.Image) -> sitk.Image:
    out = sitk.GetImageFromArray(values)
    out.CopyInformation(like)
    return out


def main() -> None:
    out, maps = Path(sys.argv[1]), Path(sys.argv[2])
    package = base_package()
    check = package.candidate_check()
    key = cache_key(package, list(package.card.mirror_axes))
    rows = []
    for pair in sys.argv[3:]:
        data, cache = (Path(p) for p in pair.split(":"))
        for case in discover_cases(data):
            kept = maps / f"{data.name}-{case.name}.npy"
            if not kept.is_file():
                continue
            image = read_image(case.image)
            truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
            card, _ = cached_probability(case, package, 1, cache, key)
            zoom = np.load(kept).astype(np.float32)
            voxel = float(np.prod(image.GetSpacing()))
            lab, n = label_components(zoom >= THRESHOLD)
            card_on = card >= THRESHOLD
            sizes = np.bincount(lab.ravel(), minlength=n + 1)
            keep = np.zeros(n + 1, bool)
            for i in range(1, n + 1):
                keep[i] = sizes[i] * voxel >= MIN_MM3
            overl = np.unique(lab[card_on])
            keep[overl] = False
            keep[0] = False
            cand = np.where(keep[lab], lab, 0).astype(np.uint16)
            labels = as_image(cand, image)
            s_zoom = check.scores(labels, image, as_image(zoom, image))
            s_card = check.scores(labels, image, as_image(card, image))
            s_max = check.scores(labels, image, as_image(np.maximum(card, zoom), image))
            for i in s_zoom:
                m = cand == i
                rows.append({"case": f"{data.name}/{case.name}", "truth": bool(truth[m].any()),
                             "mm3": round(float(m.sum() * voxel), 1), "peak_zoom": round(float(zoom[m].max()), 3),
                             "peak_card": round(float(card[m].max()), 3), "score_zoom": round(s_zoom[i], 3),
                             "score_card": round(s_card[i], 3), "score_max": round(s_max[i], 3)})
            print(case.name, sum(r["truth"] for r in rows), len(rows), flush=True)
    out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
