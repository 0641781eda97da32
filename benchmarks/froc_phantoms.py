"""FROC curve and CPM of a model package on labelled cases (phantom or MSD folders).

Lesions are scored by their peak tumour probability. Two candidate sets: **card limits**,
the components at the card's threshold that pass every other limit of its lesion filter
(minimum volume, elongation, density, zone limits), so the card's own operating point is
one point of that curve (marked in the figure); and **threshold only**, every component at
the card's threshold, which shows how well the network itself ranks tumours above
everything else.
A package with a **candidate classifier** (``candidate_check`` in its card, 0.10.0 on) keeps a
card-limits candidate only when the classifier's score reaches its cut-off, so its lesions are
scored by that score: two more curves, **classifier**, sweep the minimum classifier score over
the card-limits candidates (outline growth aside, the candidates the pipeline's classifier
judges), and their card point is the cut-off (``--no-candidate-check``: not computed).
With a **magnified look** (``magnified_look``, 0.11.0 on) the maps carry the candidates it
confirmed, which the pipeline keeps at any cut-off: they are kept at every classifier level
(their points are read from the cache beside each map).
Sensitivity is reported for all tumours and for tumours of 10 mm and more (the issue's
target); the CPM averages it at 1/8 … 8 false positives per case (LUNA16). Probability maps
are computed by the pipeline, or read from a calibration cache (``--cache``, the same
folder ``scripts/calibrate_threshold.py --cache`` fills; float16, so peaks above 0.9995 read
as 1). The sweep is exact: every candidate's own peak (classifier score) is a level.

    python benchmarks/froc_phantoms.py --data DIR [--data DIR ...] [--model PKG] [--cache DIR ...]
        [--threshold T] [--no-candidate-check] [--out benchmarks/results/froc]

Compare packages at equal false-finding rates with it, not at their own operating points
only. On phantoms the numbers test the software and the demo weights, not clinical accuracy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg import __version__  # noqa: E402
from lungtumorseg.errors import DatasetError  # noqa: E402
from lungtumorseg.evaluation.calibration import case_curve, zone_of_centroids  # noqa: E402
from lungtumorseg.evaluation.calibration_data import case_caches  # noqa: E402
from lungtumorseg.evaluation.fields import SYNTHETIC_NOTE  # noqa: E402
from lungtumorseg.evaluation.froc import (  # noqa: E402
    CLASSIFIER_SCORE, CPM_FP_RATES, candidate_peaks, froc_curve, froc_filters, score_levels, scored_candidates,
    scored_froc_curve, sweep_levels,
)
from lungtumorseg.evaluation.plots import plot_froc  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key, cached_confirmed, cached_probability  # noqa: E402
from lungtumorseg.magnify import scores_keeping_confirmed  # noqa: E402
from lungtumorseg.evaluation.report import dataset_is_synthetic  # noqa: E402
from lungtumorseg.io import read_image, write_text_atomic  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.postprocess import LesionFilter  # noqa: E402
from lungtumorseg.precision import PRECISIONS  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

COLUMNS = ("dice", "false_positives", "detected", "detected_large")  # CaseCurve arrays, one column per filter


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, action="append", required=True, help="labelled cases (repeatable)")
    parser.add_argument("--model", type=Path, default=default_package_dir())
    parser.add_argument("--cache", type=Path, action="append", default=[],
                        help="probability-map cache (read and filled): one, or one per --data (folders may share "
                             "case names)")
    parser.add_argument("--threshold", type=float,
                        help="probability threshold of the candidates (default: the card's); give two models the "
                             "same one to compare how they rank tumours")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", choices=list(PRECISIONS), default="fp32",
                        help="of the networks' forward passes when maps are computed (bf16 maps are cached apart)")
    parser.add_argument("--no-candidate-check", action="store_true",
                        help="skip the curves of the package's candidate classifier (when it has one)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "froc")
    parser.add_argument("--write-card", metavar="NAME",
                        help="also record the CPM and the sensitivity at each rate in the card, as metrics.NAME "
                             "(e.g. froc_heldout_phantoms)")
    args = parser.parse_args()

    package = load_package(args.model)
    rule = package.card.lesion_filter
    card_threshold = float(package.card.raw["postprocessing"]["threshold"])
    threshold = card_threshold if args.threshold is None else args.threshold
    check = None if args.no_candidate_check else package.candidate_check()
    if check is not None:
        import torch

        torch.set_num_threads(args.threads)
    # two passes read each map twice: without --cache, one temporary cache per folder (names may repeat)
    scratch = None if args.cache else Path(tempfile.mkdtemp(prefix="froc-maps-"))
    caches = args.cache or [scratch / str(i) for i in range(len(args.data))]
    key = cache_key(package, list(package.card.mirror_axes), args.precision)
    cases = [c for folder in args.data for c in discover_cases(folder)]
    if not cases:
        parser.error("no labelled cases found")
    try:
        case_cache = case_caches(cases, args.data, caches)
    except DatasetError as error:
        parser.error(str(error))
    peaks = []
    for i, (case, cache) in enumerate(zip(cases, case_cache), 1):  # pass 1: every candidate's peak, so the sweep is exact
        prob, _ = cached_probability(case, package, args.threads, cache, key, args.precision)
        peaks.append(candidate_peaks(prob, threshold))
        print(f"  {i}/{len(cases)} {case.name}: {len(peaks[-1])} candidates", flush=True)
    levels = sweep_levels(peaks, [rule.min_peak_probability])
    filters = froc_filters(rule, levels) + froc_filters(LesionFilter(), levels)
    curves, scored = [], []
    for case, cache in zip(cases, case_cache):  # pass 2: every level at once from one labelling per case
        image = read_image(case.image)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        prob, lung_z = cached_probability(case, package, args.threads, cache, key, args.precision)
        curves.append(case_curve(prob, truth, image.GetSpacing(), [threshold], filters,
                                 hu=sitk.GetArrayFromImage(image), zone_of_centroids=zone_of_centroids(image, lung_z)))
        if check is not None:  # the card-limits candidates, each with its classifier score
            prob_image = sitk.GetImageFromArray(prob)
            prob_image.CopyInformation(image)
            scorer = scores_keeping_confirmed(check, cached_confirmed(cache, case.name, key))  # the look's kept ones
            scored.append(scored_candidates(prob_image, image, truth, threshold, rule, scorer, lung_z))

    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    card_index = levels.index(rule.min_peak_probability)
    results = {"model": f"{package.card.name} {package.card.version}", "cases": len(cases),
               "data": [str(d) for d in args.data], "threshold": threshold, "precision": args.precision,
               "lesion_filter_except_peak": rule.to_dict(), "cpm_fp_rates": list(CPM_FP_RATES)}
    n = len(levels)
    card_curves = [replace(c, **{f: getattr(c, f)[:, :n] for f in COLUMNS}) for c in curves]
    bare_curves = [replace(c, **{f: getattr(c, f)[:, n:] for f in COLUMNS}) for c in curves]
    froc = {"card limits, tumours >= 10 mm": froc_curve(card_curves, levels, large_only=True),
            "card limits, all tumours": froc_curve(card_curves, levels),
            "threshold only, tumours >= 10 mm": froc_curve(bare_curves, levels, large_only=True),
            "threshold only, all tumours": froc_curve(bare_curves, levels)}
    if check is not None:
        results["candidate_check_cutoff"] = check.cutoff
        score_grid = score_levels([c.scores for c in scored], [check.cutoff])
        froc["classifier, tumours >= 10 mm"] = scored_froc_curve(scored, score_grid, large_only=True)
        froc["classifier, all tumours"] = scored_froc_curve(scored, score_grid)
    marks, card_limits = {}, {}
    for name, curve in froc.items():
        results[name] = curve.to_dict()
        if threshold == card_threshold:  # else the card's point is not on the curve
            if name.startswith("card"):
                card_limits[name] = f"peak >= {rule.min_peak_probability:g}"
                marks[name] = curve.point_at(levels[card_index])
                results[name]["card_point"] = {"min_peak_probability": rule.min_peak_probability}
            elif name.startswith("classifier"):
                card_limits[name] = f"classifier score >= cut-off {check.cutoff:.3f}"
                marks[name] = curve.point_at(check.cutoff)
                results[name]["card_point"] = {"candidate_check_cutoff": check.cutoff}
            if name in marks:
                results[name]["card_point"].update(false_positives_per_case=marks[name][0],
                                                   sensitivity=marks[name][1])
        at = ", ".join(f"{r:g}: {curve.sensitivity_at(r):.2f}" for r in CPM_FP_RATES)
        print(f"{name} ({curve.n_lesions} in {curve.n_cases} cases): CPM {curve.cpm():.3f}; sensitivity at FP/case "
              f"{at}; the candidates reach at most {curve.max_false_positives_per_case:.2f} FP/case"
              + (f"; card point ({card_limits[name]}): {marks[name][0]:.2f} FP/case, "
                 f"sensitivity {marks[name][1]:.2f}" if name in marks else ""))
    synthetic = all(dataset_is_synthetic(d) for d in args.data)
    results["synthetic"] = synthetic
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(json.dumps(results, indent=2) + "\n", args.out / "froc.json")
    plot_froc(froc, args.out / "froc.png", marks, SYNTHETIC_NOTE if synthetic else None)
    print(f"written {args.out / 'froc.json'} and froc.png")
    if args.write_card:
        card_path = args.model / "model.json"
        card = json.loads(card_path.read_text(encoding="utf-8"))
        card.setdefault("metrics", {})[args.write_card] = {
            "cases": len(cases), "threshold": threshold, "lesion_score": "peak tumour probability",
            "synthetic": synthetic, "lungtumorseg_version": __version__, "model_version": card["version"],
            "weights_sha256": {part: entry["sha256"] for part, entry in card["weights"].items()},
            "command": "python benchmarks/froc_phantoms.py " + " ".join(sys.argv[1:]),
            **{name: {**({"lesion_score": CLASSIFIER_SCORE} if froc[name].lesion_score == CLASSIFIER_SCORE else {}),
                      **{k: results[name][k] for k in ("n_lesions", "cpm", "sensitivity_at_fp_rate",
                                                       "max_false_positives_per_case", "card_point")
                         if k in results[name]}} for name in froc},
        }
        write_text_atomic(json.dumps(card, indent=2) + "\n", card_path)
        print(f"metrics.{args.write_card} written to {card_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
