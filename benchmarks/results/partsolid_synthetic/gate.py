"""The gate of PLAN.md: arm B's networks against 0.10.0's (arm A) on the calibration phantoms.

Each arm's candidates (``candidates.py``) are scored by 0.10.0's candidate classifier (eight
flips); each arm gets its own cut-off by 0.10.0's rule (``../classifier_more_data/compare.py``:
the lowest with <= 0.15 false positives per case). Counted on thresholded components. Also per
arm: the mean Dice over tumour cases of the kept candidates (no outline growth), and how the
arm's networks answer each truth tumour >= 10 mm (peak >= 0.5 inside; by kind, zone, size).

Usage: gate.py OUT.json CLASSIFIER DATA1,DATA2 --arm NAME PACKAGE CACHE1,CACHE2 CAND1,CAND2 [--arm ...]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
sys.path.insert(0, str(HERE.parent / "classifier_more_data"))
sys.path.insert(0, str(HERE.parent / "heldout48"))

import compare  # noqa: E402  (0.10.0's rule, counts, FROC and classifier scoring)
from lungtumorseg.evaluation.candidates import component_measures  # noqa: E402
from lungtumorseg.evaluation.lesions import label_components  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402
from misses import large_tumours  # noqa: E402

MIN_MM3 = 30.0
RESPONSE = 0.5
MORE_LARGE_TUMOURS = 3
DICE_MARGIN = 0.01


def kept_dice_and_responses(package_dir: Path, data: Path, cache: Path, cand: Path, tag: str,
                            cutoff: float) -> tuple[list[float], list[dict]]:
    """Per tumour case the Dice of the candidates kept at ``cutoff``; per truth tumour >= 10 mm its
    kind, zone, size and whether the networks respond to it."""
    package = load_package(package_dir)
    key = cache_key(package, list(package.card.mirror_axes))
    threshold = float(package.card["postprocessing"]["threshold"])
    dice, tumours = [], []
    for case in discover_cases(data):
        ct = read_image(case.image)
        prob, _ = cached_probability(case, package, 1, cache, key)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        spacing = ct.GetSpacing()
        lab, n = label_components(prob >= threshold)
        volume, _, _ = component_measures(lab, n, prob, spacing)
        candidates = np.nonzero(volume >= MIN_MM3)[0] + 1  # the order of candidates.py's npz
        scores = np.load(cand / f"{case.name}.{tag}.npy")
        assert len(scores) == len(candidates), case.name
        found = np.isin(lab, candidates[scores >= cutoff])
        if truth.any():
            dice.append(2.0 * float((found & truth).sum()) / float(found.sum() + truth.sum()))
        for inside, d, t in large_tumours(truth, ct, data / "meta" / f"{case.name}.json"):
            tumours.append({"case": f"{data.name}/{case.name}", "kind": t["kind"], "zone": t["zone"],
                            "location": t["location"], "diameter_mm": round(d, 1),
                            "peak": round(float(prob[inside].max()), 3),
                            "share": round(float((prob[inside] >= threshold).mean()), 3)})
    return dice, tumours


def response_table(tumours: list[dict]) -> dict:
    groups = defaultdict(list)
    for t in tumours:
        size = "10-15 mm" if t["diameter_mm"] < 15 else ("15-20 mm" if t["diameter_mm"] < 20 else ">= 20 mm")
        for g in (f"kind {t['kind']}", f"zone {t['zone']}", f"size {size}", f"location {t['location']}"):
            groups[g].append(t)
    return {g: {"tumours": len(v), "responded": sum(t["peak"] >= RESPONSE for t in v),
                "median_share": float(np.median([t["share"] for t in v]))} for g, v in sorted(groups.items())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("classifier", type=Path)
    ap.add_argument("data")
    ap.add_argument("--arm", nargs=4, action="append", required=True, metavar=("NAME", "PACKAGE", "CACHES", "CANDS"))
    a = ap.parse_args()
    torch.set_num_threads(2)
    data = [Path(p) for p in a.data.split(",")]
    result: dict = {"fp_bound_per_case": compare.FP_BOUND, "arms": {}}
    for name, package, caches, cands in a.arm:
        caches, cands = [Path(p) for p in caches.split(",")], [Path(p) for p in cands.split(",")]
        tag = f"score-{name}"
        cases = compare.load_cases(cands, a.classifier, tag)
        cutoff = compare.rule_cutoff(cases)
        dice, tumours = [], []
        for d, cache, cand in zip(data, caches, cands):
            more_dice, more_tumours = kept_dice_and_responses(Path(package), d, cache, cand, tag, cutoff)
            dice += more_dice
            tumours += more_tumours
        result["arms"][name] = {"package": package, "cutoff": cutoff, **compare.summary(cases, cutoff),
                                "cross_validated": compare.cross_validated(cases),
                                "kept_dice_mean": float(np.mean(dice)), "tumour_cases": len(dice),
                                "responses": response_table(tumours), "tumours_ge10": tumours}
        arm = result["arms"][name]
        print(f"{name}: cut-off {cutoff:.3f}  >=10 mm {arm['at_cutoff']['found_ge10']}/{arm['at_cutoff']['n_ge10']}  "
              f"FP {arm['at_cutoff']['fp']} ({arm['at_cutoff']['fp_per_case']:.3f}/case)  FROC mean "
              f"{arm['froc']['mean']:.3f}  kept Dice {arm['kept_dice_mean']:.4f}  every candidate "
              f"{arm['every_candidate']['found_ge10']}", flush=True)
        for g, v in arm["responses"].items():
            print(f"   {g:28s} responded {v['responded']:3d}/{v['tumours']:3d}  median share {v['median_share']:.2f}")
    names = list(result["arms"])
    if len(names) == 2:
        old, new = (result["arms"][n] for n in names)
        result["gate"] = {
            "more_large_tumours": new["at_cutoff"]["found_ge10"] >= old["at_cutoff"]["found_ge10"] + MORE_LARGE_TUMOURS,
            "froc_not_lower": new["froc"]["mean"] >= old["froc"]["mean"],
            "dice_within_margin": new["kept_dice_mean"] >= old["kept_dice_mean"] - DICE_MARGIN}
        result["gate_passes"] = all(result["gate"].values())
        print("gate", result["gate"], "passes" if result["gate_passes"] else "FAILS")
    a.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
