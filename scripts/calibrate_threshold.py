"""Choose a package's operating point on cases its weights were NOT trained on and record it
in the card: probability threshold, lesion filter (minimum volume, minimum peak probability,
maximum elongation, maximum mean density, extra limits per zone) and (optionally) test-time
mirroring and outline growth.

Runs the full pipeline once per calibration case and configuration (or reads the map from
``--cache``), measures every lesion candidate at every threshold once
(:mod:`lungtumorseg.evaluation.candidates`) and lets a calibration procedure
(:data:`lungtumorseg.evaluation.procedures.PROCEDURES`, ``--procedure``) choose its point by
the rule of :mod:`lungtumorseg.evaluation.calibration` (``--rule``): which limits are free
and over which grid. ``benchmarks/calibration_procedures.py`` measures how each procedure
holds on cases it did not choose on.

Calibration cases are the card's validation split of ``--data`` (the training folder), or,
with ``--calibration-data DIR``, every case of phantom folders generated with other seeds
(more cases make a steadier choice; their seeds are checked against the training folder's).
Give one ``--cache`` per ``--calibration-data`` (folders may share case names). Held-out
benchmark phantoms must never be used here. With ``--try-mirror-axes 2`` the same is done
with left-right test-time mirroring, which is kept only if it wins by the same rule (it
doubles inference time). With ``--outline-growth``, the chosen point's lesions are finally
grown with every setting of ``lungtumorseg.evaluation.outline_calibration.GROWTH_GRID`` and
the best mean Dice wins ("none" included; without the option the card's outline growth is
left as it is). The weights are untouched.

    python scripts/calibrate_threshold.py --model PKG --data TRAINING_FOLDER
        [--calibration-data DIR --cache DIR ...] [--procedure plain] [--try-mirror-axes 2]
        [--rule lesion-f1] [--outline-growth] [--dry-run]

``--zone-limits`` (earlier recipes) is the procedure ``full``; without it and without
``--procedure`` the procedure is ``no-zone-limits``. The procedure ``grown-size`` judges the
minimum volume on the outline grown as the card's ``outline_growth`` says (candidates are
measured after that growth; ``--outline-growth`` is refused with it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.errors import DatasetError  # noqa: E402
from lungtumorseg.evaluation.calibration import (  # noqa: E402
    RULES, OperatingPoint, calibration_record, choose_among,
)
from lungtumorseg.evaluation.calibration_data import (  # noqa: E402
    calibration_phantoms, case_caches, load_candidates, validation_cases,
)
from lungtumorseg.evaluation.candidates import CaseCandidates  # noqa: E402
from lungtumorseg.evaluation.outline_calibration import (  # noqa: E402
    GROWTH_GRID, CalibrationCase, GrowthScore, choose_growth, score_growths,
)
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.evaluation.procedures import PROCEDURES, CalibrationProcedure  # noqa: E402
from lungtumorseg.io import read_image, write_text_atomic  # noqa: E402
from lungtumorseg.models.package import ModelPackage, load_package  # noqa: E402
from lungtumorseg.outline import OutlineGrowth  # noqa: E402
from lungtumorseg.postprocess import LesionFilter  # noqa: E402
from lungtumorseg.training.dataset import CasePaths  # noqa: E402


def measure(package: ModelPackage, cases: list[CasePaths], caches: list[Path | None], threads: int, key: str,
            procedure: CalibrationProcedure, growth: OutlineGrowth | None = None,
            ) -> tuple[list[CaseCandidates], dict[str, np.ndarray], OperatingPoint]:
    """Every case's candidates under the package's current inference settings (and, with
    ``growth``, their grown outlines), the grid's pooled measures and the procedure's point
    before zone limits."""
    candidates = load_candidates(cases, caches, package, key, procedure.thresholds, threads,
                                 progress=lambda name: print(f"  {name} done", flush=True), growth=growth)
    summary = procedure.summarise(candidates)
    return candidates, summary, procedure.start(summary)


def print_zone_steps(steps: list[dict]) -> None:
    for step in steps:
        limit = "none" if step["limit"] is None else _describe(LesionFilter.from_dict(step["limit"]))
        print(f"zone {step['zone']}: extra limit {limit} -> mean Dice {step['mean_dice']:.3f}, "
              f"{step['false_positives_per_case']:.2f} FP/case, sensitivity >=10 mm {step['sensitivity_large']:.2f}, "
              f"lesion F1 {step['lesion_f1']}", flush=True)


def outline_growth(package: ModelPackage, cases: list[CasePaths], caches: list[Path | None], threads: int, key: str,
                   point: OperatingPoint) -> tuple[GrowthScore, list[GrowthScore]]:
    """Every outline growth of the grid (and none) at ``point``; the best mean Dice, printed."""
    def calibration_cases():
        for case, cache in zip(cases, caches):
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


def print_table(summary: dict[str, np.ndarray], chosen: OperatingPoint, procedure: CalibrationProcedure,
                rows: int = 12) -> None:
    """The best points by mean Dice, the best point without peak/shape limits, and the choice."""
    thresholds, filters = procedure.thresholds, procedure.filters
    dice = np.nan_to_num(summary["mean_dice"], nan=0.0)
    order = np.dstack(np.unravel_index(np.argsort(-dice, axis=None), dice.shape))[0][:rows]
    print("best points: mean Dice (tumour cases) / FP per case / sensitivity >=10 mm / tumour-free clean")
    for a, b in order:
        print(f"  t={thresholds[a]:.2f} {_describe(filters[b])}: {summary['mean_dice'][a, b]:.3f} / "
              f"{summary['false_positives_per_case'][a, b]:.2f} / {summary['sensitivity_large'][a, b]:.2f} / "
              f"{summary['clean_fraction'][a, b]:.2f}")
    plain = [b for b, r in enumerate(filters)
             if r.min_peak_probability == 0 and math.isinf(r.max_elongation) and math.isinf(r.max_mean_hu)]
    a, b = max(((a, b) for a in range(len(thresholds)) for b in plain), key=lambda ab: dice[ab])
    print(f"best without peak/elongation limits: t={thresholds[a]:.2f} {_describe(filters[b])}: "
          f"{summary['mean_dice'][a, b]:.3f} / {summary['false_positives_per_case'][a, b]:.2f} / "
          f"{summary['sensitivity_large'][a, b]:.2f}")
    print(f"chosen: threshold {chosen.threshold:.2f}, {_describe(chosen.lesion_filter)} -> "
          f"mean Dice {chosen.mean_dice:.3f}, {chosen.false_positives_per_case:.2f} FP/case, "
          f"sensitivity >=10 mm {chosen.sensitivity_large:.2f}, tumour-free clean {chosen.clean_fraction:.2f}, "
          f"lesion F1 {chosen.lesion_f1:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="the package's training folder")
    parser.add_argument("--calibration-data", type=Path, action="append", default=[],
                        help="calibrate on every case of this phantom folder instead of the validation split (repeatable)")
    parser.add_argument("--cache", type=Path, action="append", default=[],
                        help="keep probability maps here and reuse them on the next run (one, or one per "
                             "--calibration-data)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--procedure", choices=sorted(PROCEDURES),
                        help="which limits are free: " + "; ".join(f"{p.name}: {p.description}"
                                                                  for p in PROCEDURES.values()))
    parser.add_argument("--try-mirror-axes", type=int, nargs="+", choices=(0, 1, 2),
                        help="also try test-time mirroring along these canonical axes (0 z, 1 y, 2 x = left-right)")
    parser.add_argument("--rule", choices=sorted(RULES), default="dice",
                        help="dice: best mean Dice first; lesion-f1: best lesion-level F1 first (found tumours "
                             "against false findings), then Dice")
    parser.add_argument("--zone-limits", action="store_true", help="the procedure 'full' (earlier recipes)")
    parser.add_argument("--outline-growth", action="store_true",
                        help="finally choose the kept lesions' outline growth (best mean Dice, none included)")
    parser.add_argument("--dry-run", action="store_true", help="print the tables and the choice, leave the card alone")
    parser.add_argument("--tables", type=Path,
                        help="where the full tables go (default benchmarks/results/calibration/<name>-<version>.json)")
    args = parser.parse_args()
    if args.zone_limits and args.procedure not in (None, "full"):
        parser.error("--zone-limits is the procedure 'full'; give one of the two")
    name = args.procedure or ("full" if args.zone_limits else "no-zone-limits")
    procedure = dataclasses.replace(PROCEDURES[name], rule=args.rule)
    package = load_package(args.model)
    size_growth = None  # a procedure judging the size on the grown outline grows with the card's growth
    if any(f.size_after_growth for f in procedure.filters):
        if args.outline_growth:
            parser.error(f"the procedure {name} judges the size on the outline grown as the card says; "
                         "choosing another growth afterwards would change which lesions pass: leave out --outline-growth")
        size_growth = LesionFilter.from_dict(package.card.raw.get("postprocessing", {})).outline_growth
        if size_growth is None:
            parser.error(f"the procedure {name} needs the card's postprocessing.outline_growth")
    try:
        if args.calibration_data:
            cases, source = calibration_phantoms(args.data, args.calibration_data)
        else:
            cases, source = validation_cases(package, args.data), "validation split of the training data"
        caches = case_caches(cases, args.calibration_data, args.cache)
    except DatasetError as error:
        parser.error(str(error))
    if not cases:
        parser.error("no calibration cases found")
    options = [[]] + ([list(args.try_mirror_axes)] if args.try_mirror_axes else [])
    results = []
    for mirror in options:
        package.card.raw.setdefault("inference", {})["mirror_axes"] = mirror  # in memory only
        print(f"test-time mirroring {mirror or 'off'} on {source}, procedure {name}:", flush=True)
        results.append(measure(package, cases, caches, args.threads, cache_key(package, mirror), procedure,
                               size_growth))
        print_table(*results[-1][1:], procedure)
    pick = choose_among([chosen for *_, chosen in results], procedure.tolerance, args.rule)
    candidates, summary, chosen = results[pick]
    package.card.raw["inference"]["mirror_axes"] = options[pick]
    print(f"chosen: mirroring {options[pick] or 'off'}")
    steps = None
    if procedure.zone_limits:
        chosen, steps = procedure.refine(candidates, chosen)
        print_zone_steps(steps)
    growth = None
    if args.outline_growth:
        growth = outline_growth(package, cases, caches, args.threads, cache_key(package, options[pick]), chosen)
        print(f"chosen outline growth: {growth[0].to_dict()['outline_growth']}")
    if args.dry_run:
        return 0
    card_path = args.model / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    post = card["postprocessing"]
    post["threshold"] = chosen.threshold
    post.pop("zone_limits", None)
    post.pop("size_after_growth", None)  # written again below when the chosen filter has it
    post.update(chosen.lesion_filter.to_dict())
    if growth is not None:
        post.pop("outline_growth", None)
        if growth[0].growth is not None:
            post["outline_growth"] = growth[0].growth.to_dict()
    card.setdefault("inference", {})["mirror_axes"] = options[pick]
    record = calibration_record([c.name for c in cases], procedure.thresholds, procedure.filters, summary, chosen,
                                procedure.tolerance, args.rule)
    record["calibration_data"] = source
    record["procedure"] = {"name": name, "description": procedure.description}
    if steps is not None:
        record["zone_refinement"] = steps
    if growth is not None:
        record["outline_growth"] = {"chosen": growth[0].to_dict(), "tried": [s.to_dict() for s in growth[1]]}
    record["command"] = "python scripts/calibrate_threshold.py " + " ".join(sys.argv[1:])
    record["mirror_axes_tried"] = {json.dumps(m): {"mean_dice": round(p.mean_dice, 4),
                                                   "false_positives_per_case": round(p.false_positives_per_case, 3),
                                                   "sensitivity_large": round(p.sensitivity_large, 3)}
                                   for m, (*_, p) in zip(options, results)}
    tables = args.tables or ROOT / "benchmarks" / "results" / "calibration" / f"{card['name']}-{card['version']}.json"
    tables.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(json.dumps(record) + "\n", tables)
    summary_keys = ("cases", "rule", "procedure", "chosen", "note", "calibration_data", "command", "mirror_axes_tried",
                    *(("zone_refinement",) if steps is not None else ()))
    if growth is not None:  # the card keeps the choice and the no-growth line; the tables keep every setting
        card.setdefault("metrics", {})["outline_growth_calibration"] = {
            "chosen": growth[0].to_dict(), "without_growth": growth[1][0].to_dict(),
            "note": "growth changes outlines and volumes, never which lesions are reported; synthetic phantoms, "
                    "not clinical accuracy"}
    card.setdefault("metrics", {})["threshold_calibration"] = {
        **{k: record[k] for k in summary_keys},
        "tables": str(tables.relative_to(ROOT) if tables.is_relative_to(ROOT) else tables),
    }
    write_text_atomic(json.dumps(card, indent=2) + "\n", card_path)
    print(f"full tables written to {tables}")
    print(f"operating point written to {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
