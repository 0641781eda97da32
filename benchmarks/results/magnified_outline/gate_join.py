"""PLAN.md's gate: 0.11.0's look (baseline) against variant J (magnified components that touch
the normal map's components join them), both through the card's whole post-processing, from
the cached maps of the calibration phantoms.

Usage: gate_join.py OUT.json PACKAGE_0.10.0 ZOOMED_MAPS LOOK_CLASSIFIER DATA:CACHE [DATA:CACHE ...]

PACKAGE_0.10.0 is the package whose maps the caches hold (their cache key has no look); the
look runs here at the 0.11.0 card's zoom and cut-off with LOOK_CLASSIFIER.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from safetensors.torch import load_file
from scipy import ndimage as ndi

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))
sys.path.insert(0, str(HERE.parent / "zoom_tta"))
sys.path.insert(0, str(HERE.parent / "heldout48"))

from gate import as_image, measures  # noqa: E402  (the look experiment's helpers)
from misses import phantom_tumour  # noqa: E402
from lungtumorseg.candidate_check import CandidateCheck, build_classifier  # noqa: E402
from lungtumorseg.evaluation.case import evaluate_prediction  # noqa: E402
from lungtumorseg.evaluation.lesions import label_components  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.magnify import MagnifiedLook, add_confirmed  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from lungtumorseg.relabel import MeasureContext, lesions_from_probability  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

LOOK = MagnifiedLook(zoom=1.5, cutoff=0.94)  # the 0.11.0 card's
DICE_GAIN, FEWER_LARGE, MORE_FP_PER_CASE = 0.01, 1, 0.05  # PLAN.md


def join_touching(merged: np.ndarray, normal: np.ndarray, magnified: np.ndarray, threshold: float) -> np.ndarray:
    """Variant J: over every magnified component at ``threshold`` that overlaps or face-touches
    a normal component at ``threshold``, the map takes max(map, magnified)."""
    near_normal = ndi.binary_dilation(normal >= threshold)  # face connectivity, one voxel
    mlab, _ = ndi.label(magnified >= threshold)
    ids = np.unique(mlab[near_normal & (mlab > 0)])
    inside = np.isin(mlab, ids[ids > 0])
    out = merged.copy()
    out[inside] = np.maximum(out[inside], magnified[inside])
    return out


def coverage(pred: np.ndarray, truth: np.ndarray, image: sitk.Image, meta: Path) -> list[dict]:
    """Each found truth tumour's kind and the share of its voxels inside the final lesions."""
    lab, n = label_components(truth)
    out = []
    for i in range(1, n + 1):
        inside = lab == i
        hit = int((pred & inside).sum())
        if hit:
            out.append({"kind": phantom_tumour(meta, image, inside).get("kind"), "share": hit / int(inside.sum())})
    return out


def main() -> None:
    out, pkg, maps, weights = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    package = load_package(pkg)
    if package.card.magnified_look is not None:
        raise SystemExit("give the package the cached maps were made with (0.10.0: no look)")
    threshold = float(package.card["postprocessing"]["threshold"])
    rule = package.card.lesion_filter
    check = package.candidate_check()
    net = build_classifier(package.card["candidate_check"]["network"])
    net.load_state_dict(load_file(weights))
    look_check = CandidateCheck(net.eval(), LOOK.cutoff)
    key = cache_key(package, list(package.card.mirror_axes))
    rows = {"baseline": [], "J": []}
    shares = {"baseline": [], "J": []}
    for pair in sys.argv[5:]:
        data, cache = (Path(p) for p in pair.split(":"))
        for case in discover_cases(data):
            image = read_image(case.image)
            truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
            normal, lung_z = cached_probability(case, package, 1, cache, key)
            zoom = np.load(maps / f"{data.name}-{case.name}.npy").astype(np.float32)
            added = add_confirmed(normal, zoom, image, threshold, rule.min_lesion_mm3, look_check, LOOK)
            context = MeasureContext(lung_z, None, added.points)
            maps_of = {"baseline": added.probability, "J": join_touching(added.probability, normal, zoom, threshold)}
            line = []
            for arm, prob in maps_of.items():
                labels, _ = lesions_from_probability(as_image(prob, image), image, threshold, rule, context, check)
                pred = sitk.GetArrayFromImage(labels) > 0
                ev = evaluate_prediction(pred, None, truth, image.GetSpacing(), origin=image.GetOrigin(),
                                         direction=image.GetDirection(), lung_z_mm=lung_z, case=case.name)
                rows[arm].append(measures(ev))
                shares[arm] += coverage(pred, truth, image, data / "meta" / f"{case.name}.json")
                line.append(f"{arm} Dice {rows[arm][-1]['dice']:.3f} fp {rows[arm][-1]['fp']}")
            print(f"{data.name}/{case.name}: " + ", ".join(line), flush=True)
    summary = {}
    for arm, at in rows.items():
        tumour = [a for a in at if a["has_tumour"]]
        free = [a for a in at if not a["has_tumour"]]
        summary[arm] = {"large_found": sum(a["large_found"] for a in at), "large": sum(a["large"] for a in at),
                        "false_positives": sum(a["fp"] for a in at),
                        "mean_dice_tumour_cases": round(float(np.mean([a["dice"] for a in tumour])), 4),
                        "clean": sum(a["fp"] == 0 for a in free), "tumour_free": len(free),
                        "found_tumour_share_by_kind": {
                            kind: round(float(np.mean([s["share"] for s in shares[arm] if s["kind"] == kind])), 3)
                            for kind in sorted({s["kind"] for s in shares[arm]} - {None})}}
    b, j = summary["baseline"], summary["J"]
    n = len(rows["J"])
    rules = {"mean Dice at least 0.01 higher": j["mean_dice_tumour_cases"] >= b["mean_dice_tumour_cases"] + DICE_GAIN,
             "tumours >= 10 mm at most one fewer": j["large_found"] >= b["large_found"] - FEWER_LARGE,
             "false positives at most 0.05 per case more": j["false_positives"] <= b["false_positives"] + MORE_FP_PER_CASE * n,
             "tumour-free clean not fewer": j["clean"] >= b["clean"]}
    result = {"cases": n, "summary": summary, "rules": rules, "gate_passed": all(rules.values()),
              "note": "synthetic phantoms, not clinical accuracy"}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
