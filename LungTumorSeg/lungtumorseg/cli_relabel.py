"""``lungtumorseg relabel``: lesions for another operating point from a kept probability map.

For batch users who sweep thresholds or lesion filters: ``predict --probabilities P
--report R`` once, then ``relabel`` as often as needed — seconds per case instead of a
network run. The lesions are those ``predict`` would give with the same settings (the same
:func:`lungtumorseg.relabel.lesions_from_probability`); zone and side need the run's report.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import SimpleITK as sitk

from .candidate_check import with_cutoff
from .errors import LungTumorSegError
from .postprocess import LesionFilter


def add_relabel_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("relabel", help="lesions for another threshold / lesion filter from a kept probability map")
    p.add_argument("input", type=Path, help="the CT the map was computed for (file or DICOM folder)")
    p.add_argument("probabilities", type=Path,
                   help="the map written by predict --probabilities (float 0..1, or uint8 percent)")
    p.add_argument("-o", "--output", type=Path, required=True, help="lesion label image to write (0, 1..N)")
    p.add_argument("--run-report", type=Path, default=None,
                   help="the report of the predict run: its settings are the defaults here, and it gives "
                        "each lesion's zone and side")
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--min-lesion-mm3", type=float, default=None)
    p.add_argument("--min-peak-probability", type=float, default=None)
    p.add_argument("--max-elongation", type=float, default=None, help="1 = sphere; inf = no limit")
    p.add_argument("--max-mean-hu", type=float, default=None, help="inf = no limit")
    p.add_argument("--no-zone-limits", action="store_true",
                   help="drop the zone limits of the run report (extra limits in single zones)")
    p.add_argument("--no-outline-growth", action="store_true",
                   help="drop the run report's outline growth (keep the thresholded outlines)")
    p.add_argument("--model", type=Path, default=None,
                   help="the model package of the run, whose candidate classifier judges the candidates as in the "
                        "run (default: the shipped package, when the run report names it)")
    p.add_argument("--no-candidate-check", action="store_true",
                   help="keep every candidate the limits keep (no candidate classifier)")
    p.add_argument("--candidate-cutoff", type=float, default=None, metavar="C",
                   help="the candidate classifier's cut-off (0..1; default: the run report's, else the card's)")
    p.add_argument("--magnified-probabilities", type=Path, default=None, metavar="MAP",
                   help="the magnified look's map written by predict --magnified-probabilities: the lesions take in "
                        "its components touching them, as the run did when its card's look joins them")
    p.add_argument("--no-magnified-join", action="store_true",
                   help="do not join the magnified look's touching components (the lesions as judged, outlines "
                        "from the probability map alone)")
    p.add_argument("--report", type=Path, default=None, help="write the new lesion report (JSON)")
    p.set_defaults(runner=run_relabel)


def _settings(args: argparse.Namespace, run_report: dict) -> tuple[float, LesionFilter]:
    """Threshold and lesion filter: the run report's, overridden by the options given."""
    post = dict(run_report.get("postprocessing") or {})
    threshold = args.threshold if args.threshold is not None else post.get("threshold", run_report.get("threshold"))
    if threshold is None:
        raise LungTumorSegError("give --threshold, or --run-report with the predict run's settings")
    rule = LesionFilter.from_dict(post).overridden(
        min_lesion_mm3=args.min_lesion_mm3, min_peak_probability=args.min_peak_probability,
        max_elongation=args.max_elongation, max_mean_hu=args.max_mean_hu, zone_limits=not args.no_zone_limits,
        outline_growth=not args.no_outline_growth)
    return float(threshold), rule


def _candidate_check(args: argparse.Namespace, run_report: dict):
    """The candidate classifier to apply, at ``--candidate-cutoff``, else the run report's
    cut-off, else its card's: ``--model``'s; else, when the run report says one judged, the
    shipped package's if the report names it; None with ``--no-candidate-check``."""
    run_cutoff = (run_report.get("postprocessing") or {}).get("candidate_check_cutoff")
    cutoff = args.candidate_cutoff if args.candidate_cutoff is not None else run_cutoff
    if args.no_candidate_check:
        return with_cutoff(None, args.candidate_cutoff)  # refuses a cut-off given with the check off
    check = _package_check(args, run_report)
    if check is None and args.candidate_cutoff is None:
        return None  # the run had no candidate check: none now either
    return with_cutoff(check, cutoff)  # refuses a cut-off when there is no classifier


def _package_check(args: argparse.Namespace, run_report: dict):
    """The candidate classifier of ``--model``, else the shipped package's when the run report
    says it judged with it (None when the run had no candidate check)."""
    from .models.package import default_package_dir, load_package

    if args.model is not None:
        return load_package(args.model).candidate_check()
    if "candidate_check_cutoff" not in (run_report.get("postprocessing") or {}):
        return None
    shipped = load_package(default_package_dir())
    model = run_report.get("model") or {}
    if (model.get("name"), model.get("version")) != (shipped.card.name, shipped.card.version):
        raise LungTumorSegError(
            f"the run's lesions were judged by the candidate classifier of {model.get('name')} "
            f"{model.get('version')}: give --model with that package, or --no-candidate-check")
    return shipped.candidate_check()


def _magnified_map(args: argparse.Namespace, run_report: dict, percent: bool) -> sitk.Image | None:
    """The magnified look's map to join (as the main map: percent or probability), None for no
    join; refuses a run that joined when the map is missing, a map for a run that did not join,
    and contradictory options."""
    from .io import read_image
    from .relabel import MAGNIFIED_JOIN_KEY, probability_from_percent, probability_to_percent

    if args.no_magnified_join:
        if args.magnified_probabilities is not None:
            raise LungTumorSegError("give --magnified-probabilities or --no-magnified-join, not both")
        return None
    joined = bool((run_report.get("postprocessing") or {}).get(MAGNIFIED_JOIN_KEY))
    if args.magnified_probabilities is None:
        if joined:
            raise LungTumorSegError(
                "the run's lesions took in the magnified look's touching components: give --magnified-probabilities "
                "(the map predict --magnified-probabilities wrote), or --no-magnified-join")
        return None
    if run_report and not joined:
        raise LungTumorSegError(
            "--magnified-probabilities: the run (--run-report) did not join the magnified look's components, "
            "so its lesions would change; leave the option out (or give no run report to join on purpose)")
    magnified = read_image(args.magnified_probabilities)
    is_percent = magnified.GetPixelID() == sitk.sitkUInt8
    if percent and not is_percent:
        return probability_to_percent(magnified)
    if is_percent and not percent:
        return probability_from_percent(magnified)
    return magnified


def run_relabel(args: argparse.Namespace) -> int:
    from .io import read_image, write_image, write_text_atomic
    from .relabel import MeasureContext, lesions_from_percent, lesions_from_probability, relabel_report

    run_report = json.loads(args.run_report.read_text(encoding="utf-8")) if args.run_report else {}
    threshold, rule = _settings(args, run_report)
    ct = read_image(args.input)
    probability = read_image(args.probabilities)
    percent = probability.GetPixelID() == sitk.sitkUInt8
    relabel = lesions_from_percent if percent else lesions_from_probability
    context = MeasureContext.from_report(run_report)
    check = _candidate_check(args, run_report)
    magnified = _magnified_map(args, run_report, percent)
    labels, lesions = relabel(probability, ct, threshold, rule, context, check, magnified)
    write_image(labels, args.output)
    report = relabel_report(lesions, threshold, rule, context, run_report.get("model"),
                            f"relabel of {args.probabilities}", check, magnified is not None, input=str(args.input))
    if args.report:
        write_text_atomic(json.dumps(report, indent=2) + "\n", args.report)
    print(report["message"])
    for lesion in lesions:
        print(f"  {lesion.summary()}")
    return 0
