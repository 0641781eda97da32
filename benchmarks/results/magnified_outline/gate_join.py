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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

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
from lungtumorseg.magnify import ConfirmedRegions, MagnifiedLook, add_confirmed  # noqa: E402
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


@dataclass
class Looked:
    """One calibration case with 0.11.0's look applied to its cached 0.10.0 map."""

    name: str
    image: sitk.Image
    truth: np.ndarray
    normal: np.ndarray
    zoom: np.ndarray
    lung_z: tuple[float, float] | None
    added: ConfirmedRegions
    meta: Path


class Arms:
    """What every arm shares: the 0.10.0 package (the one the cached maps were made with), its
    post-processing, the look's classifier, and each arm's per-case measures."""

    def __init__(self, pkg: Path, weights: str, arms: tuple[str, ...]) -> None:
        self.package = load_package(pkg)
        if self.package.card.magnified_look is not None:
            raise SystemExit("give the package the cached maps were made with (0.10.0: no look)")
        self.threshold = float(self.package.card["postprocessing"]["threshold"])
        self.rule = self.package.card.lesion_filter
        self.check = self.package.candidate_check()
        net = build_classifier(self.package.card["candidate_check"]["network"])
        net.load_state_dict(load_file(weights))
        self.look_check = CandidateCheck(net.eval(), LOOK.cutoff)
        self.key = cache_key(self.package, list(self.package.card.mirror_axes))
        self.rows: dict[str, list[dict]] = {arm: [] for arm in arms}
        self.shares: dict[str, list[dict]] = {arm: [] for arm in arms}

    def cases(self, maps: Path, pairs: list[str]) -> Iterator[Looked]:
        """Every case of the ``DATA:CACHE`` pairs, with the look applied."""
        for pair in pairs:
            data, cache = (Path(p) for p in pair.split(":"))
            for case in discover_cases(data):
                image = read_image(case.image)
                normal, lung_z = cached_probability(case, self.package, 1, cache, self.key)
                zoom = np.load(maps / f"{data.name}-{case.name}.npy").astype(np.float32)
                added = add_confirmed(normal, zoom, image, self.threshold, self.rule.min_lesion_mm3, self.look_check, LOOK)
                yield Looked(f"{data.name}/{case.name}", image, sitk.GetArrayFromImage(read_image(case.label)) > 0,
                             normal, zoom, lung_z, added, data / "meta" / f"{case.name}.json")

    def lesions(self, looked: Looked, probability: np.ndarray) -> np.ndarray:
        """The card's whole post-processing of ``probability`` (the look's points kept): lesion mask."""
        labels, _ = lesions_from_probability(as_image(probability, looked.image), looked.image, self.threshold, self.rule,
                                             MeasureContext(looked.lung_z, None, looked.added.points), self.check)
        return sitk.GetArrayFromImage(labels) > 0

    def score(self, arm: str, looked: Looked, pred: np.ndarray) -> str:
        """Record ``pred``'s measures and tumour coverage under ``arm``; a short line for the log."""
        ev = evaluate_prediction(pred, None, looked.truth, looked.image.GetSpacing(), origin=looked.image.GetOrigin(),
                                 direction=looked.image.GetDirection(), lung_z_mm=looked.lung_z, case=looked.name)
        self.rows[arm].append(measures(ev))
        self.shares[arm] += coverage(pred, looked.truth, looked.image, looked.meta)
        return f"{arm} Dice {self.rows[arm][-1]['dice']:.3f} fp {self.rows[arm][-1]['fp']}"

    def summary(self) -> dict:
        """Per arm: tumours >= 10 mm found, false positives, mean Dice, clean tumour-free cases
        and the share of each found tumour covered, by kind."""
        out = {}
        for arm, at in self.rows.items():
            tumour = [a for a in at if a["has_tumour"]]
            free = [a for a in at if not a["has_tumour"]]
            shares = self.shares[arm]
            out[arm] = {"large_found": sum(a["large_found"] for a in at), "large": sum(a["large"] for a in at),
                        "false_positives": sum(a["fp"] for a in at),
                        "mean_dice_tumour_cases": round(float(np.mean([a["dice"] for a in tumour])), 4),
                        "clean": sum(a["fp"] == 0 for a in free), "tumour_free": len(free),
                        "found_tumour_share_by_kind": {
                            kind: round(float(np.mean([s["share"] for s in shares if s["kind"] == kind])), 3)
                            for kind in sorted({s["kind"] for s in shares} - {None})}}
        return out


def main() -> None:
    out, pkg, maps, weights = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    arms = Arms(pkg, weights, ("baseline", "J"))
    for looked in arms.cases(maps, sys.argv[5:]):
        merged = looked.added.probability
        maps_of = {"baseline": merged, "J": join_touching(merged, looked.normal, looked.zoom, arms.threshold)}
        line = [arms.score(arm, looked, arms.lesions(looked, prob)) for arm, prob in maps_of.items()]
        print(f"{looked.name}: " + ", ".join(line), flush=True)
    summary = arms.summary()
    b, j = summary["baseline"], summary["J"]
    n = len(arms.rows["J"])
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
