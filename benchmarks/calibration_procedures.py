"""Which calibration procedure's operating point holds on cases it was not chosen on.

Each procedure of :data:`lungtumorseg.evaluation.procedures.PROCEDURES` (which limits of the
operating point are free) is cross-validated on the calibration phantoms (repeated stratified
k-fold: choose on k−1 folds, score on the last; out-of-fold outcomes pooled). Then each one
chooses on all calibration phantoms, and that point is scored on the held-out phantoms
(``--heldout``, reported only, never used to choose). The procedure to ship follows the rule
of ``benchmarks/results/operating_point_cv/PLAN.md``
(:func:`lungtumorseg.evaluation.cross_validation.choose_procedure`).

Dice here is without outline growth (growth never changes which lesions are reported and
is chosen afterwards by ``scripts/calibrate_threshold.py --outline-growth``), unless
``--outline-growth MIN_HU MAX_HU MM`` is given: then every candidate is also measured after
that growth, every procedure is scored on the grown outlines (what the pipeline reports), and
the procedure ``grown-size`` (size limits judged on the grown outline) can run
(``benchmarks/results/grown_size_cv``). Probability
maps come from the caches ``scripts/calibrate_threshold.py --cache`` and
``benchmarks/froc_phantoms.py --cache`` fill (one ``--cache`` per ``--calibration-data``, in
the same order: folders may share case names). On phantoms the numbers test the software and
the demo weights, not clinical accuracy.

    python benchmarks/calibration_procedures.py --model PKG --data TRAINING_FOLDER \\
        --calibration-data DIR --cache DIR [--calibration-data DIR --cache DIR ...] \\
        [--heldout DIR --heldout-cache DIR] [--folds 5 --repeats 4 --seed 21] \\
        [--candidates DIR] [--outline-growth MIN_HU MAX_HU MM] [--procedures NAME ...]
        [--out benchmarks/results/operating_point_cv]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.errors import DatasetError  # noqa: E402
from lungtumorseg.evaluation.calibration_data import calibration_phantoms, case_caches, load_candidates  # noqa: E402
from lungtumorseg.evaluation.cross_validation import (  # noqa: E402
    choose_procedure, cross_validate, point_dict, pooled_measures, score_point,
)
from lungtumorseg.evaluation.fields import SYNTHETIC_NOTE  # noqa: E402
from lungtumorseg.evaluation.plots import plot_procedure_comparison  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key  # noqa: E402
from lungtumorseg.evaluation.procedures import PROCEDURES, THRESHOLDS  # noqa: E402
from lungtumorseg.evaluation.targets import ISSUE_TARGETS, targets_met  # noqa: E402
from lungtumorseg.io import write_text_atomic  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.outline import OutlineGrowth  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

#: Fewest free limits first: the order in which a near-tie is broken (PROCEDURES' own order).
SIMPLEST_FIRST = tuple(PROCEDURES)


def candidates_of(cases, caches, package, key, store: Path | None, growth: OutlineGrowth | None = None):
    """The cases' candidates, each read from ``store`` (one pickle per case, named by the case's
    path, the cache key, the threshold grid and the growth) when there, else measured and kept there."""
    out = []
    for case, cache in zip(cases, caches):
        named_by = [str(case.image.resolve()), key, list(THRESHOLDS)] + ([growth.to_dict()] if growth else [])
        ident = hashlib.sha256(json.dumps(named_by).encode()).hexdigest()[:16]
        kept = store / f"{case.name}-{ident}.pkl" if store else None
        if kept and kept.is_file():
            out.append(pickle.loads(kept.read_bytes()))
            continue
        out.extend(load_candidates([case], [cache], package, key, THRESHOLDS,
                                   progress=lambda name: print(f"  {name} measured", flush=True), growth=growth))
        if kept:
            store.mkdir(parents=True, exist_ok=True)
            kept.write_bytes(pickle.dumps(out[-1]))
    return out


def _line(name: str, m: dict[str, float]) -> str:
    return (f"  {name:19s} Dice {m['mean_dice']:.3f}  sens>=10mm {m['sensitivity_large']:.3f}  "
            f"FP/case {m['false_positives_per_case']:.2f}  clean {m['clean_fraction']:.2f}  "
            f"lesion F1 {m['lesion_f1']:.3f}  targets met {targets_met(m)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=default_package_dir())
    parser.add_argument("--data", type=Path, required=True, help="the package's training folder (seed check)")
    parser.add_argument("--calibration-data", type=Path, action="append", required=True)
    parser.add_argument("--cache", type=Path, action="append", required=True,
                        help="probability-map cache: one, or one per --calibration-data (folders may share case names)")
    parser.add_argument("--heldout", type=Path, help="held-out phantoms, reported only")
    parser.add_argument("--heldout-cache", type=Path)
    parser.add_argument("--procedures", nargs="+", choices=sorted(PROCEDURES),
                        help="default: every procedure the candidates allow (grown-size needs --outline-growth)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--candidates", type=Path, help="folder of measured candidates (one pickle per case), "
                                                         "read and filled")
    parser.add_argument("--outline-growth", nargs=3, type=float, metavar=("MIN_HU", "MAX_HU", "MM"),
                        help="measure candidates also after this growth and score the grown outlines")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "operating_point_cv")
    args = parser.parse_args()
    growth = OutlineGrowth(*args.outline_growth) if args.outline_growth else None
    needs_growth = [n for n in (args.procedures or []) if any(f.size_after_growth for f in PROCEDURES[n].filters)]
    if needs_growth and growth is None:
        parser.error(f"{needs_growth} judge the size after growth: give --outline-growth")
    names = args.procedures or [n for n in SIMPLEST_FIRST
                                if growth or not any(f.size_after_growth for f in PROCEDURES[n].filters)]
    package = load_package(args.model)
    key = cache_key(package, package.card.raw.get("inference", {}).get("mirror_axes") or [])
    try:
        cases, source = calibration_phantoms(args.data, args.calibration_data)
        caches = case_caches(cases, args.calibration_data, args.cache)
    except DatasetError as error:
        parser.error(str(error))
    store = args.candidates
    calibration = candidates_of(cases, caches, package, key, store, growth)
    heldout = None
    if args.heldout:
        held_cases = discover_cases(args.heldout)
        heldout = candidates_of(held_cases, [args.heldout_cache] * len(held_cases), package, key, store, growth)

    print(f"\n{args.folds}-fold cross-validation x {args.repeats} (seed {args.seed}) on {source} "
          f"(synthetic phantoms, not clinical accuracy):", flush=True)
    results = [cross_validate(PROCEDURES[name], calibration, args.folds, args.repeats, args.seed)
               for name in names]
    report = {"model": f"{package.card.raw['name']} {package.card.raw['version']}", "calibration_data": source,
              "folds": args.folds, "repeats": args.repeats, "seed": args.seed, "procedures": {},
              "note": SYNTHETIC_NOTE + (f"; scored on outlines grown by {growth.to_dict()}" if growth
                                        else "; Dice without outline growth")}
    figure_rows = {}
    for result in results:
        procedure = PROCEDURES[result.procedure]
        mean = result.mean()
        spread = result.threshold_spread()
        print(_line(result.procedure, mean) + f"  thresholds {spread['chosen']}")
        entry = {"description": procedure.description, "cross_validation": result.to_dict()}
        point, zones = procedure.choose(calibration)
        entry["on_all_calibration_cases"] = {**point_dict(point), "zone_refinement": zones}
        figure_rows[result.procedure] = {"cross-validated": mean}
        if heldout is not None:
            held = pooled_measures([score_point(point, c) for c in heldout])
            entry["heldout"] = {**{k: round(v, 4) for k, v in held.items()}, "targets_met": targets_met(held)}
            figure_rows[result.procedure]["held out"] = held
        report["procedures"][result.procedure] = entry
    if heldout is not None:
        print(f"\nchosen on all {len(calibration)} calibration phantoms, scored on {len(heldout)} held-out phantoms "
              "(reported only):")
        for name, entry in report["procedures"].items():
            print(_line(name, entry["heldout"]) + f"  point t={entry['on_all_calibration_cases']['threshold']:.2f}")
    winner = choose_procedure(results, SIMPLEST_FIRST)
    report["chosen_procedure"] = winner.procedure
    report["rule"] = ("most issue targets met out of fold, then best pooled lesion F1; the simplest procedure "
                      "within 0.005 of that F1 wins (PLAN.md)")
    print(f"\nchosen procedure by the plan's rule: {winner.procedure}")
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(json.dumps(report, indent=1) + "\n", args.out / "procedures.json")
    targets = {m: (t.label, t.value) for m, t in ISSUE_TARGETS.items()}
    plot_procedure_comparison(figure_rows, args.out / "procedures.png",
                              {**targets, "lesion_f1": ("lesion F1 (pooled)", None)}, SYNTHETIC_NOTE)
    print(f"written: {args.out / 'procedures.json'}, {args.out / 'procedures.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
