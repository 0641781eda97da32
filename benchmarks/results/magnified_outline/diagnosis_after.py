"""Diagnosis for the next plan (not a gate, nothing is chosen or shipped from it): what if the
join came *after* the candidate classifier's judgement? Per calibration phantom, 0.11.0's final
lesions (as ``gate_join.py``'s baseline: the look, then the card's whole post-processing), then
each lesion joined with every component of the magnified map at the threshold that overlaps or
face-touches it. Detection cannot change except by two lesions meeting; what moves is how much
of each tumour the lesions cover and how much else they take in.

Usage: diagnosis_after.py OUT.json PACKAGE_0.10.0 ZOOMED_MAPS LOOK_CLASSIFIER DATA:CACHE [DATA:CACHE ...]
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
from gate_join import LOOK, coverage  # noqa: E402
from lungtumorseg.candidate_check import CandidateCheck, build_classifier  # noqa: E402
from lungtumorseg.evaluation.case import evaluate_prediction  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.magnify import add_confirmed  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from lungtumorseg.relabel import MeasureContext, lesions_from_probability  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402


def join_after(lesions: np.ndarray, magnified: np.ndarray, threshold: float) -> np.ndarray:
    """``lesions`` (bool) joined with the magnified components at ``threshold`` touching them."""
    mlab, _ = ndi.label(magnified >= threshold)
    ids = np.unique(mlab[ndi.binary_dilation(lesions) & (mlab > 0)])
    return lesions | np.isin(mlab, ids[ids > 0])


def main() -> None:
    out, pkg, maps, weights = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    package = load_package(pkg)
    threshold = float(package.card["postprocessing"]["threshold"])
    rule = package.card.lesion_filter
    check = package.candidate_check()
    net = build_classifier(package.card["candidate_check"]["network"])
    net.load_state_dict(load_file(weights))
    look_check = CandidateCheck(net.eval(), LOOK.cutoff)
    key = cache_key(package, list(package.card.mirror_axes))
    rows = {"baseline": [], "after": []}
    shares = {"baseline": [], "after": []}
    for pair in sys.argv[5:]:
        data, cache = (Path(p) for p in pair.split(":"))
        for case in discover_cases(data):
            image = read_image(case.image)
            truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
            normal, lung_z = cached_probability(case, package, 1, cache, key)
            zoom = np.load(maps / f"{data.name}-{case.name}.npy").astype(np.float32)
            added = add_confirmed(normal, zoom, image, threshold, rule.min_lesion_mm3, look_check, LOOK)
            labels, _ = lesions_from_probability(as_image(added.probability, image), image, threshold, rule,
                                                 MeasureContext(lung_z, None, added.points), check)
            base = sitk.GetArrayFromImage(labels) > 0
            line = []
            for arm, pred in (("baseline", base), ("after", join_after(base, zoom, threshold))):
                ev = evaluate_prediction(pred, None, truth, image.GetSpacing(), origin=image.GetOrigin(),
                                         direction=image.GetDirection(), lung_z_mm=lung_z, case=case.name)
                rows[arm].append(measures(ev))
                shares[arm] += coverage(pred, truth, image, data / "meta" / f"{case.name}.json")
                line.append(f"{arm} Dice {rows[arm][-1]['dice']:.3f} fp {rows[arm][-1]['fp']}")
            print(f"{data.name}/{case.name}: " + ", ".join(line), flush=True)
    summary = {}
    for arm, at in rows.items():
        tumour = [a for a in at if a["has_tumour"]]
        summary[arm] = {"large_found": sum(a["large_found"] for a in at), "large": sum(a["large"] for a in at),
                        "false_positives": sum(a["fp"] for a in at),
                        "mean_dice_tumour_cases": round(float(np.mean([a["dice"] for a in tumour])), 4),
                        "found_tumour_share_by_kind": {
                            kind: round(float(np.mean([s["share"] for s in shares[arm] if s["kind"] == kind])), 3)
                            for kind in sorted({s["kind"] for s in shares[arm]} - {None})}}
    result = {"cases": len(rows["after"]), "summary": summary, "diagnosis_only": True,
              "note": "synthetic phantoms, not clinical accuracy"}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
