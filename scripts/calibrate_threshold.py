"""Choose a package's operating point on cases its weights were NOT trained on and record it
in the card: probability threshold, lesion filter (minimum volume, minimum peak probability,
maximum elongation, maximum mean density) and (optionally) test-time mirroring.

Runs the full pipeline once per calibration case and configuration, keeps the probability
map, and evaluates every (threshold, filter) pair of the grids below with
:mod:`lungtumorseg.evaluation.calibration`: best mean Dice over tumour cases, then, among
points within 0.005 of it, the fewest false-positive lesions per case.

Calibration cases are the card's validation split of ``--data`` (the training folder), or,
with ``--calibration-data DIR``, every case of phantom folders generated with other seeds
(more cases make a steadier choice; their seeds are checked against the training folder's).
Held-out benchmark phantoms must never be used here. With ``--try-mirror-axes 2`` the
same is done with left-right test-time mirroring, which is kept only if it wins by the same
rule (it doubles inference time). With ``--zone-limits``, each zone in turn may then get an
extra limit (a larger minimum volume and/or minimum peak probability for lesions in that
zone: ``lungtumorseg.postprocess``), kept only where it wins by the same rule. With
``--outline-growth``, the chosen point's lesions are finally grown with every setting of
``lungtumorseg.evaluation.outline_calibration.GROWTH_GRID`` and the best mean Dice wins ("none"
included; without the option the card's outline growth is left as it is). The weights are
untouched.

    python scripts/calibrate_threshold.py --model PKG --data TRAINING_FOLDER [--calibration-data DIR]
        [--cache DIR] [--try-mirror-axes 2] [--rule lesion-f1] [--zone-limits] [--outline-growth] [--dry-run]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.evaluation.calibration import (  # noqa: E402
    RULES, OperatingPoint, calibration_record, case_curve, choose_among, choose_operating_point, refine_zone_limits,
    summarise_curves, zone_of_centroids,
)
from lungtumorseg.evaluation.outline_calibration import (  # noqa: E402
    GROWTH_GRID, CalibrationCase, GrowthScore, choose_growth, score_growths,
)
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image, write_text_atomic  # noqa: E402
from lungtumorseg.models.package import ModelPackage, load_package  # noqa: E402
from lungtumorseg.postprocess import LesionFilter  # noqa: E402
from lungtumorseg.training.dataset import CasePaths, discover_cases  # noqa: E402
from lungtumorseg.zones import ZONE_NAMES  # noqa: E402

THRESHOLDS = np.round(np.arange(0.10, 0.86, 0.05), 2)
MIN_VOLUMES_MM3 = (30.0, 60.0, 120.0, 250.0, 400.0)  # equivalent diameters 3.9, 4.9, 6.1, 7.8, 9.1 mm
MIN_PEAKS = (0.0, 0.6, 0.7, 0.8, 0.9)
# Grid limits are plausibility limits, not search ranges: below a threshold of 0.10 outlines
# follow the map's noise floor, and an elongation limit under 1.75 would reject ordinary
# oval nodules (a sphere is 1, a 2:1 ellipsoid 2, a 3:1 ellipsoid 3).
MAX_ELONGATIONS = (math.inf, 4.0, 3.0, 2.5, 2.0, 1.75)
# A mean density above 150 HU is bone, calcification or a contrast-filled vessel: lung cancer
# measures ~20-60 HU and malignant nodules enhance by 15-60 HU with contrast (Swensen et al.,
# Radiology 2000). Lower caps would start to reject enhancing tumours on real scans, whatever
# synthetic phantoms (0-60 HU tumours) would allow.
MAX_MEAN_HUS = (math.inf, 150.0)
# Most permissive first: on a full tie the earlier filter wins.
FILTERS = [LesionFilter(v, p, e, h) for h, e, p, v
           in itertools.product(MAX_MEAN_HUS, MAX_ELONGATIONS, MIN_PEAKS, MIN_VOLUMES_MM3)]
TOLERANCE = 0.005
# Extra limits a zone may get on top of the chosen point (--zone-limits); only those that
# tighten the chosen point are tried.
ZONE_LIMITS = [LesionFilter(v, p) for p in (0.0, 0.5, 0.6, 0.7, 0.8, 0.9)
               for v in (250.0, 400.0, 600.0, 850.0, 1200.0, 1700.0)]


def _seed(case: CasePaths) -> int | None:
    """The phantom seed of a case from its ``meta/<case>.json`` (None when absent)."""
    meta = case.image.parent.parent / "meta" / f"{case.name}.json"
    return json.loads(meta.read_text(encoding="utf-8")).get("seed") if meta.is_file() else None


def calibrate(package: ModelPackage, cases: list[CasePaths], threads: int, cache: Path | None, key: str,
              rule: str = "dice"):
    """Curves of every calibration case under the package's current inference settings."""
    curves = []
    for case in cases:
        image = read_image(case.image)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        prob, _ = cached_probability(case, package, threads, cache, key)
        curves.append(case_curve(prob, truth, image.GetSpacing(), THRESHOLDS, FILTERS,
                                 hu=sitk.GetArrayFromImage(image)))
        print(f"  {case.name} done", flush=True)
    summary = summarise_curves(curves)
    return summary, choose_operating_point(summary, THRESHOLDS, FILTERS, TOLERANCE, rule)


def zone_limits(package: ModelPackage, cases: list[CasePaths], threads: int, cache: Path | None, key: str,
                start: OperatingPoint, rule: str) -> tuple[OperatingPoint, list[dict]]:
    """Extra limits per zone on top of ``start`` (see ``refine_zone_limits``), printed as they go."""
    def evaluate(filters: list[LesionFilter]) -> dict[str, np.ndarray]:
        curves = []
        for case in cases:
            image = read_image(case.image)
            truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
            prob, lung_z = cached_probability(case, package, threads, cache, key)
            curves.append(case_curve(prob, truth, image.GetSpacing(), [start.threshold], filters,
                                     hu=sitk.GetArrayFromImage(image), zone_of_centroids=zone_of_centroids(image, lung_z)))
        return summarise_curves(curves)

    point, steps = refine_zone_limits(evaluate, start, ZONE_NAMES, ZONE_LIMITS, TOLERANCE, rule)
    for step in steps:
        limit = "none" if step["limit"] is None else _describe(LesionFilter.from_dict(step["limit"]))
        print(f"zone {step['zone']}: extra limit {limit} -> mean Dice {step['mean_dice']:.3f}, "
              f"{step['false_positives_per_case']:.2f} FP/case, sensitivity >=10 mm {step['sensitivity_large']:.2f}, "
              f"lesion F1 {step['lesion_f1']}", flush=True)
    return point, steps


def outline_growth(package: ModelPackage, cases: list[CasePaths], threads: int, cache: Path | None, key: str,
                   point: OperatingPoint) -> tuple[GrowthScore, list[GrowthScore]]:
    """Every outline growth of the grid (and none) at ``point``; the best mean Dice, printed."""
    def calibration_cases():
        for case in cases:
            image = read_image(case.image)
            prob, lung_z = cached_probability(case, package, threads, cache, key)
            probability = sitk.GetImageFromArray(prob.astype(np.float32))
            probability.CopyInformation(image)
            yield CalibrationCase(probability, image, sitk.GetArrayFromImage(read_image(case.label)) > 0, lung_z)

    scores = score_growths(calibration_cases(), point.threshold, point.lesion_filter, [None, *GROWTH_GRID])
    print("outline growth (min HU, max HU, reach mm): mean Dice, pooled recall, precision")
    for s in sorted(scores, key=lambda s: -s.mean_dice):
        name = "none" if s.growth is None else f"{s.growth.min_hu:g}, {s.growth.max_hu:g}, {s.growth.max_distance_mm:g}"
        print(f"  {name:18s} {s.mean_dice:.4f} {s.recall:.3f} {s.precision:.3f}")
    return choose_growth(scores), scores


def _describe(rule: LesionFilter) -> str:
    elongation = "any" if math.isinf(rule.max_elongation) else f"<={rule.max_elongation:g}"
    density = "any" if math.isinf(rule.max_mean_hu) else f"<={rule.max_mean_hu:g}"
    return (f"vol>={rule.min_lesion_mm3:>4.0f} peak>={rule.min_peak_probability:.1f} elong {elongation:>5s} "
            f"HU {density:>5s}")


def print_table(summary: dict[str, np.ndarray], chosen: OperatingPoint, rows: int = 12) -> None:
    """The best points by mean Dice, the card's kind of point without shape limits, and the choice."""
    dice = np.nan_to_num(summary["mean_dice"], nan=0.0)
    order = np.dstack(np.unravel_index(np.argsort(-dice, axis=None), dice.shape))[0][:rows]
    print("best points: mean Dice (tumour cases) / FP per case / sensitivity >=10 mm / tumour-free clean")
    for a, b in order:
        print(f"  t={THRESHOLDS[a]:.2f} {_describe(FILTERS[b])}: {summary['mean_dice'][a, b]:.3f} / "
              f"{summary['false_positives_per_case'][a, b]:.2f} / {summary['sensitivity_large'][a, b]:.2f} / "
              f"{summary['clean_fraction'][a, b]:.2f}")
    plain = [b for b, r in enumerate(FILTERS)
             if r.min_peak_probability == 0 and math.isinf(r.max_elongation) and math.isinf(r.max_mean_hu)]
    a, b = max(((a, b) for a in range(len(THRESHOLDS)) for b in plain), key=lambda ab: dice[ab])
    print(f"best without peak/elongation limits: t={THRESHOLDS[a]:.2f} {_describe(FILTERS[b])}: "
          f"{summary['mean_dice'][a, b]:.3f} / {summary['false_positives_per_case'][a, b]:.2f} / "
          f"{summary['sensitivity_large'][a, b]:.2f}")
    print(f"chosen: threshold {chosen.threshold:.2f}, {_describe(chosen.lesion_filter)} -> "
          f"mean Dice {chosen.mean_dice:.3f}, {chosen.false_positives_per_case:.2f} FP/case, "
          f"sensitivity >=10 mm {chosen.sensitivity_large:.2f}, tumour-free clean {chosen.clean_fraction:.2f}, "
          f"lesion F1 {chosen.lesion_f1:.3f}")


def calibration_cases(package: ModelPackage, data: Path, extra: list[Path]) -> tuple[list[CasePaths], str]:
    """The card's validation cases of ``data``, or every case of ``extra`` (seeds checked)."""
    if not extra:
        names = set(package.card.raw["training"]["validation_cases"])
        return [c for c in discover_cases(data) if c.name in names], "validation split of the training data"
    training_seeds = {s for s in map(_seed, discover_cases(data)) if s is not None}
    cases = [c for folder in extra for c in discover_cases(folder)]
    seeds = [_seed(c) for c in cases]
    if None in seeds:
        raise SystemExit("every calibration case needs meta/<case>.json with its seed (written by `lungtumorseg phantom`)")
    if training_seeds & set(seeds):
        raise SystemExit(f"calibration phantoms share seeds with the training data: {sorted(training_seeds & set(seeds))[:5]}")
    return cases, f"{len(cases)} phantoms not used in training (seeds {min(seeds)}-{max(seeds)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="the package's training folder")
    parser.add_argument("--calibration-data", type=Path, action="append", default=[],
                        help="calibrate on every case of this phantom folder instead of the validation split (repeatable)")
    parser.add_argument("--cache", type=Path, help="keep probability maps here and reuse them on the next run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--try-mirror-axes", type=int, nargs="+", choices=(0, 1, 2),
                        help="also try test-time mirroring along these canonical axes (0 z, 1 y, 2 x = left-right)")
    parser.add_argument("--rule", choices=sorted(RULES), default="dice",
                        help="dice: best mean Dice first; lesion-f1: best lesion-level F1 first (found tumours "
                             "against false findings), then Dice")
    parser.add_argument("--zone-limits", action="store_true",
                        help="then try extra limits per zone (larger minimum volume / peak probability), kept "
                             "where they win by the same rule")
    parser.add_argument("--outline-growth", action="store_true",
                        help="finally choose the kept lesions' outline growth (best mean Dice, none included)")
    parser.add_argument("--dry-run", action="store_true", help="print the tables and the choice, leave the card alone")
    args = parser.parse_args()
    package = load_package(args.model)
    cases, source = calibration_cases(package, args.data, args.calibration_data)
    if not cases:
        parser.error("no calibration cases found")
    options = [[]] + ([list(args.try_mirror_axes)] if args.try_mirror_axes else [])
    results = []
    for mirror in options:
        package.card.raw.setdefault("inference", {})["mirror_axes"] = mirror  # in memory only
        print(f"test-time mirroring {mirror or 'off'} on {source}:", flush=True)
        key = cache_key(package, mirror)
        results.append(calibrate(package, cases, args.threads, args.cache, key, args.rule))
        print_table(*results[-1])
    pick = choose_among([chosen for _, chosen in results], TOLERANCE, args.rule)
    summary, chosen = results[pick]
    print(f"chosen: mirroring {options[pick] or 'off'}")
    steps = None
    if args.zone_limits:
        package.card.raw["inference"]["mirror_axes"] = options[pick]
        chosen, steps = zone_limits(package, cases, args.threads, args.cache, cache_key(package, options[pick]), chosen,
                                    args.rule)
    growth = None
    if args.outline_growth:
        package.card.raw["inference"]["mirror_axes"] = options[pick]
        growth = outline_growth(package, cases, args.threads, args.cache, cache_key(package, options[pick]), chosen)
        print(f"chosen outline growth: {growth[0].to_dict()['outline_growth']}")
    if args.dry_run:
        return 0
    card_path = args.model / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    post = card["postprocessing"]
    post["threshold"] = chosen.threshold
    post.pop("zone_limits", None)
    post.update(chosen.lesion_filter.to_dict())
    if growth is not None:
        post.pop("outline_growth", None)
        if growth[0].growth is not None:
            post["outline_growth"] = growth[0].growth.to_dict()
    card.setdefault("inference", {})["mirror_axes"] = options[pick]
    record = calibration_record([c.name for c in cases], THRESHOLDS, FILTERS, summary, chosen, TOLERANCE, args.rule)
    record["calibration_data"] = source
    if steps is not None:
        record["zone_refinement"] = steps
    if growth is not None:
        record["outline_growth"] = {"chosen": growth[0].to_dict(), "tried": [s.to_dict() for s in growth[1]]}
    record["command"] = "python scripts/calibrate_threshold.py " + " ".join(sys.argv[1:])
    record["mirror_axes_tried"] = {json.dumps(m): {"mean_dice": round(p.mean_dice, 4),
                                                   "false_positives_per_case": round(p.false_positives_per_case, 3),
                                                   "sensitivity_large": round(p.sensitivity_large, 3)}
                                   for m, (_, p) in zip(options, results)}
    tables = ROOT / "benchmarks" / "results" / "calibration" / f"{card['name']}-{card['version']}.json"
    tables.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(json.dumps(record) + "\n", tables)
    summary_keys = ("cases", "rule", "chosen", "note", "calibration_data", "command", "mirror_axes_tried",
                    *(("zone_refinement",) if steps is not None else ()))
    if growth is not None:  # the card keeps the choice and the no-growth line; the tables keep every setting
        card.setdefault("metrics", {})["outline_growth_calibration"] = {
            "chosen": growth[0].to_dict(), "without_growth": growth[1][0].to_dict(),
            "note": "growth changes outlines and volumes, never which lesions are reported; synthetic phantoms, "
                    "not clinical accuracy"}
    card.setdefault("metrics", {})["threshold_calibration"] = {
        **{k: record[k] for k in summary_keys}, "tables": str(tables.relative_to(ROOT)),
    }
    write_text_atomic(json.dumps(card, indent=2) + "\n", card_path)
    print(f"full tables written to {tables}")
    print(f"operating point written to {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
