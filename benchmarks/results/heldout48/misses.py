"""Why the shipped package misses the held-out tumours of 10 mm and more (diagnosis only).

For every truth tumour >= 10 mm of the card's 48 held-out phantoms (seeds 10000-10047) that
the pipeline does not find, which stage loses it, from the maps the card's benchmark cached:

* ``no response``: no voxel of the tumour reaches the card's threshold;
* ``too small``: some do, but no component of the map at the threshold that touches the tumour
  reaches the minimum volume (30 mm3);
* ``classifier``: such components exist and the candidate classifier scores all of them below
  its cut-off (their best score is printed). Candidates a magnified look confirmed (0.11.0 on;
  their points are cached beside each map) are kept, as the pipeline keeps them.

Each miss also carries what the phantom's meta file says the tumour is (kind, location, zone)
and the case's slice thickness (added in session 27).

Nothing here chooses anything: the card's held-out set only tells the next experiment where
the losses are; choices are made on calibration phantoms and decided on fresh seeds.

Usage: misses.py DATA CACHE [OUT.json]   (the held-out folder and the --cache of heldout_phantoms.py)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.evaluation.lesions import equivalent_diameter_mm, label_components  # noqa: E402
from lungtumorseg.evaluation.froc import scored_candidates  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key, cached_confirmed, cached_probability  # noqa: E402
from lungtumorseg.magnify import scores_keeping_confirmed  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402


def phantom_tumour(meta_file: Path, image: sitk.Image, inside: np.ndarray) -> dict:
    """What the phantom says a truth tumour is (kind, location, zone, the case's slice
    thickness): the meta tumour whose centre is nearest the truth component's centroid."""
    if not meta_file.is_file():
        return {}
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    centroid = np.asarray(image.TransformContinuousIndexToPhysicalPoint(
        tuple(float(v) for v in np.argwhere(inside).mean(0)[::-1])))
    nearest = min(meta["tumours"], key=lambda t: float(np.linalg.norm(np.subtract(t["centre_lps_mm"], centroid))))
    return {"kind": nearest["kind"], "location": nearest["location"], "zone": nearest["zone"],
            "slice_thickness_mm": meta["slice_thickness_mm"]}


def large_tumours(truth: np.ndarray, image: sitk.Image, meta_file: Path,
                  min_diameter_mm: float = 10.0) -> Iterator[tuple[np.ndarray, float, dict]]:
    """Each truth tumour (component of ``truth``, on ``image``'s grid) of at least
    ``min_diameter_mm`` equivalent diameter: its mask, that diameter and what the phantom says
    it is (``phantom_tumour``). Shared by the diagnosis scripts of later experiments."""
    lab, n = label_components(truth)
    voxel_mm3 = float(np.prod(image.GetSpacing()))
    for i in range(1, n + 1):
        inside = lab == i
        d = float(equivalent_diameter_mm(inside.sum() * voxel_mm3))
        if d >= min_diameter_mm:
            yield inside, d, phantom_tumour(meta_file, image, inside)


def main() -> None:
    data, cache = Path(sys.argv[1]), Path(sys.argv[2])
    meta_dir = data / "meta"
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    package = load_package(default_package_dir())
    check = package.candidate_check()
    threshold = float(package.card.raw["postprocessing"]["threshold"])
    rule = package.card.lesion_filter
    key = cache_key(package, list(package.card.mirror_axes))
    rows, counts = [], {"found": 0, "no response": 0, "too small": 0, "classifier": 0}
    for case in discover_cases(data):
        image = read_image(case.image)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        prob, lung_z = cached_probability(case, package, 1, cache, key)
        prob_image = sitk.GetImageFromArray(prob)
        prob_image.CopyInformation(image)
        scorer = scores_keeping_confirmed(check, cached_confirmed(cache, case.name, key))  # the look's, kept
        scored = scored_candidates(prob_image, image, truth, threshold, rule, scorer, lung_z)
        t_lab, _ = label_components(truth)
        voxel_mm3 = float(np.prod(image.GetSpacing()))
        for i in range(scored.n_truth):
            if not scored.large[i]:
                continue
            inside = t_lab == i + 1
            touching = scored.scores[scored.touches[i]]
            if touching.size and touching.max() >= check.cutoff:
                counts["found"] += 1
                continue
            stage = "classifier" if touching.size else (
                "too small" if (prob[inside] >= threshold).any() else "no response")
            counts[stage] += 1
            kind = phantom_tumour(meta_dir / f"{case.name}.json", image, inside)
            rows.append({"case": case.name, "tumour": i + 1, **kind,
                         "diameter_mm": round(float(equivalent_diameter_mm(inside.sum() * voxel_mm3)), 1),
                         "peak_inside": round(float(prob[inside].max()), 3),
                         "share_at_threshold": round(float((prob[inside] >= threshold).mean()), 3),
                         "stage": stage, "best_score": round(float(touching.max()), 3) if touching.size else None})
            print(rows[-1], flush=True)
    print(counts, f"cut-off {check.cutoff:.3f}")
    if out is not None:
        out.write_text(json.dumps({"cut_off": check.cutoff, "threshold": threshold, "counts": counts,
                                   "misses": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
