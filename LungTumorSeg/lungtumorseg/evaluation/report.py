"""Evaluate a model package on a labelled data set and write the evaluation report.

For every case found by :func:`~lungtumorseg.training.dataset.discover_cases` the full
pipeline (:func:`~lungtumorseg.pipeline.segment`) is run on the image, and its lesion labels
and probability map are compared with the reference label by
:func:`~lungtumorseg.evaluation.case.evaluate_prediction`. Results go to ``outdir``:

* ``metrics_cases.csv`` — one row per case (voxel metrics + lesion detection counts);
* ``metrics_zones.csv`` — one row per case and zone (upper/middle/lower);
* ``lesions.csv``       — one row per truth and predicted lesion;
* ``summary.json``      — statistics over cases, pooled values, zones, detection by size,
  settings, and the definition of every field (``fields``);
* PNG figures (see :mod:`~lungtumorseg.evaluation.plots`), unless disabled.

Numbers measured on synthetic phantoms are labelled as such everywhere (``synthetic`` and
``data_note`` in the summary, the printed table and every figure): they check that the
software works, they are not clinical accuracy.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from .aggregate import summarise
from .case import case_row, evaluate_prediction, lesion_rows, zone_rows
from .fields import CASE_FIELDS, EDGE_CASES, LESION_FIELDS, SYNTHETIC_NOTE, ZONE_FIELDS, all_fields
from .lesions import SIZE_BINS
from .metrics import SLICEWISE_NOTE
from .stats import bootstrap_ci, format_mean_sd
from .tables import write_csv, write_json

__all__ = ["EvaluateOptions", "evaluate_dataset", "evaluate_prediction", "bootstrap_ci",
           "dataset_is_synthetic", "write_results", "format_summary"]

SCHEMA = "lungtumorseg.evaluation/1"
Log = Callable[[str], None]


@dataclass
class EvaluateOptions:
    """Settings of a data-set evaluation (``None`` = the model card's default)."""

    threshold: Optional[float] = None
    threads: Optional[int] = None
    limit: Optional[int] = None
    min_iou: float = 0.0
    synthetic: Optional[bool] = None  # None: decided from dataset.json
    plots: bool = True
    gallery: int = 6
    save_predictions: bool = False
    device: str = "cpu"
    precision: str = "fp32"  # of the networks' forward passes (lungtumorseg.precision)
    probability_cache: Optional[Path] = None  # also keep each map there (evaluation.probability_cache)


def dataset_info(root: Path) -> dict[str, Any]:
    """Name and description from ``dataset.json`` (empty strings without one)."""
    manifest = Path(root) / "dataset.json"
    info = {"path": str(root), "name": "", "description": ""}
    if manifest.is_file():
        try:
            raw = json.loads(manifest.read_text(encoding="utf-8"))
            info["name"], info["description"] = str(raw.get("name", "")), str(raw.get("description", ""))
        except (OSError, json.JSONDecodeError):
            pass
    return info


def dataset_is_synthetic(root: Path) -> bool:
    """True when ``dataset.json``'s name or description mentions phantom or synthetic data."""
    info = dataset_info(root)
    text = f"{info['name']} {info['description']}".lower()
    return "phantom" in text or "synthetic" in text


def _truth_on_image_grid(label, image):  # noqa: ANN001, ANN202 (SimpleITK images)
    """The reference label resampled (nearest neighbour) onto the image grid if it differs."""
    import SimpleITK as sitk

    from ..io import same_grid

    if same_grid(label, image):
        return label
    return sitk.Resample(label, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, label.GetPixelID())


def _case_line(i: int, n: int, name: str, ev: dict[str, Any], seconds: float, status: str) -> str:
    v, d = ev["voxel"], ev["detection"]
    hd = v["hd95_mm"]
    hd_text = "inf" if np.isinf(hd) else f"{hd:.1f} mm"
    extra = "" if status == "ok" else f" [{status}]"
    return (f"case {i}/{n} {name}: Dice {v['dice']:.3f}, HD95 {hd_text}, "
            f"lesions {d['n_detected']}/{d['n_truth_lesions']} detected, {d['n_false_positive']} FP "
            f"({seconds:.0f} s){extra}")


def evaluate_dataset(
    data: Path,
    model: Path,
    outdir: Path,
    options: EvaluateOptions = EvaluateOptions(),
    log: Log = print,
) -> dict[str, Any]:
    """Run the pipeline on every case of ``data`` with package ``model``; write and return the summary."""
    import SimpleITK as sitk

    from ..io import read_image, write_image
    from ..models.package import load_package
    from ..pipeline import SegmentOptions, segment
    from ..training.dataset import discover_cases
    from .plots import take_snapshot
    from .zones import resolve_lung_extent
    from .geometry import Grid
    from .probability_cache import cache_key, store_probability

    t_start = time.perf_counter()
    data, outdir = Path(data), Path(outdir)
    cases = discover_cases(data)
    n_found = len(cases)
    if options.limit is not None:
        cases = cases[: max(int(options.limit), 0)]
    package = load_package(model)
    package.verify_all()
    synthetic = options.synthetic if options.synthetic is not None else dataset_is_synthetic(data)
    if synthetic:
        log(f"note: {SYNTHETIC_NOTE}")
    if package.card.is_demo:
        log(f"note: model {package.card.name}: {package.card.warning}")
    log(f"evaluating {package.card.name} {package.card.version} on {len(cases)} of {n_found} cases in {data}")
    map_key = cache_key(package, list(package.card.mirror_axes), options.precision)
    seg_options = SegmentOptions(threshold=options.threshold, threads=options.threads, device=options.device,
                                 precision=options.precision)
    evaluations, case_rows, zrows, lrows, snapshots = [], [], [], [], []
    statuses, threshold_used = [], options.threshold
    for i, case in enumerate(cases, start=1):
        image = read_image(case.image)
        truth_img = _truth_on_image_grid(read_image(case.label), image)
        t0 = time.perf_counter()
        result = segment(image, package, seg_options)
        seconds = time.perf_counter() - t0
        threshold_used = result.threshold
        pred = sitk.GetArrayFromImage(result.labels)
        prob = sitk.GetArrayFromImage(result.probability)
        if options.probability_cache is not None:
            store_probability(options.probability_cache, case.name, map_key, prob, result.lung_z_lps_mm,
                              result.confirmed_lps, result.magnified_probability)
        truth = sitk.GetArrayFromImage(truth_img) > 0
        grid = Grid.of_image(image)
        lung_z, source = resolve_lung_extent(case.image, result, package.card.raw, truth.shape, grid)
        ev = evaluate_prediction(pred, prob, truth, image.GetSpacing(), origin=image.GetOrigin(),
                                 direction=image.GetDirection(), lung_z_mm=lung_z, min_iou=options.min_iou,
                                 case=case.name)
        evaluations.append(ev)
        statuses.append(result.status)
        case_rows.append(case_row(ev, status=result.status, lung_extent_source=source, seconds=seconds))
        zrows.extend(zone_rows(ev))
        lrows.extend(lesion_rows(ev))
        if options.plots:
            snapshots.append(take_snapshot(case.name, ev["voxel"]["dice"], sitk.GetArrayFromImage(image),
                                           truth, pred > 0, image.GetSpacing(), ev["slice_axis"]))
        if options.save_predictions:
            write_image(result.labels, outdir / "predictions" / f"{case.name}.nii.gz")
        log(_case_line(i, len(cases), case.name, ev, seconds, result.status))
        del image, truth_img, result, pred, prob, truth
    summary = build_summary(
        evaluations,
        dataset={**dataset_info(data), "n_cases_found": n_found, "n_cases_evaluated": len(cases)},
        model={"path": str(model), **package.card.summary()},
        settings={"threshold": threshold_used, "detection_min_iou": options.min_iou, "limit": options.limit,
                  "threads": options.threads, "precision": options.precision,
                  "size_bins_mm": [[n, lo, hi] for n, lo, hi in SIZE_BINS]},
        synthetic=synthetic,
        statuses=statuses,
    )
    files = write_results(outdir, case_rows, zrows, lrows)
    if options.plots:
        files += write_plots(outdir, evaluations, summary, snapshots, options.gallery)
    summary["files"] = [p.name for p in files] + ["summary.json"]
    summary["seconds"] = round(time.perf_counter() - t_start, 1)
    write_json(summary, outdir / "summary.json")
    log(format_summary(summary))
    log(f"results written to {outdir}")
    return summary


def build_summary(
    evaluations: list[dict[str, Any]],
    *,
    dataset: dict[str, Any],
    model: dict[str, Any],
    settings: dict[str, Any],
    synthetic: bool,
    statuses: Optional[list[str]] = None,
) -> dict[str, Any]:
    """The ``summary.json`` content (without ``files``/``seconds``, added by the runner)."""
    statuses = statuses or ["ok"] * len(evaluations)
    blocks = summarise(evaluations)
    return {
        "schema": SCHEMA,
        "synthetic": bool(synthetic),
        "data_note": SYNTHETIC_NOTE if synthetic else
        "measured against the data set's reference labels; research evaluation, not a clinical validation",
        "dataset": dataset,
        "model": model,
        "settings": settings,
        "cases": {
            "n_evaluated": len(evaluations),
            "n_no_lungs": sum(s == "no_lungs" for s in statuses),
            "n_truth_empty": sum(e["voxel"]["truth_volume_ml"] == 0 for e in evaluations),
            "names": [e["case"] for e in evaluations],
        },
        **blocks,
        "slicewise_dice_note": SLICEWISE_NOTE,
        "edge_cases": EDGE_CASES,
        "fields": all_fields(),
    }


def write_results(
    outdir: Path, case_rows: list[dict[str, Any]], zone_rows_: list[dict[str, Any]], lesion_rows_: list[dict[str, Any]]
) -> list[Path]:
    """Write the three CSV files (every documented column, in documented order)."""
    outdir = Path(outdir)
    return [
        write_csv(case_rows, list(CASE_FIELDS), outdir / "metrics_cases.csv"),
        write_csv(zone_rows_, list(ZONE_FIELDS), outdir / "metrics_zones.csv"),
        write_csv(lesion_rows_, list(LESION_FIELDS), outdir / "lesions.csv"),
    ]


def write_plots(
    outdir: Path, evaluations: list[dict[str, Any]], summary: dict[str, Any], snapshots: list, gallery: int = 6
) -> list[Path]:
    """Write the four figures; returns their paths."""
    from .plots import plot_detection_by_size, plot_dice_per_case, plot_volumes, plot_worst_cases

    note = SYNTHETIC_NOTE if summary.get("synthetic") else None
    names = [e["case"] for e in evaluations]
    v = [e["voxel"] for e in evaluations]
    return [
        plot_dice_per_case(names, [m["dice"] for m in v], outdir / "dice_per_case.png", note),
        plot_volumes([m["truth_volume_ml"] for m in v], [m["pred_volume_ml"] for m in v], outdir / "volumes.png", note),
        plot_detection_by_size(summary["lesions"]["by_size"], outdir / "detection_by_size.png", note),
        plot_worst_cases(snapshots, outdir / "worst_cases.png", gallery, note),
    ]


_TABLE = [
    ("dice", "Dice (volume)", 3), ("slicewise_dice", "Dice (slice-wise)", 3), ("iou", "IoU", 3),
    ("recall", "Recall", 3), ("precision", "Precision", 3), ("specificity", "Specificity", 5),
    ("accuracy", "Accuracy", 5), ("hd95_mm", "HD95 (mm)", 1), ("asd_mm", "ASD (mm)", 2),
    ("volume_error_ml", "Volume error (mL)", 2), ("volume_error_pct", "Volume error (%)", 1),
    ("rmse", "RMSE (mask)", 4), ("rmse_probability", "RMSE (probability)", 4),
]


def _num(x: Any, digits: int) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def format_summary(summary: dict[str, Any]) -> str:
    """A readable plain-text table of the summary (what the command line prints)."""
    lines = []
    model, ds, cases = summary["model"], summary["dataset"], summary["cases"]
    lines.append(f"LungTumorSeg evaluation: {model.get('name')} {model.get('version')} on "
                 f"{cases['n_evaluated']} case(s) of {ds.get('name') or ds.get('path')}")
    if summary["synthetic"]:
        lines.append(f"*** {SYNTHETIC_NOTE} ***")
    if model.get("demo"):
        lines.append(f"model note: {model.get('warning')}")
    lines.append(f"{'metric':<20}{'mean ± sd (over cases)':<30}{'median':>9}{'95% CI of mean':>22}{'pooled':>9}")
    for key, label, digits in _TABLE:
        s = summary["voxel"][key]
        ci = s["ci95"]
        ci_text = f"[{_num(ci[0], digits)}, {_num(ci[1], digits)}]"
        pooled = summary["pooled"].get(key)
        lines.append(f"{label:<20}{format_mean_sd(s, digits):<30}{_num(s['median'], digits):>9}"
                     f"{ci_text:>22}{_num(pooled, digits) if pooled is not None else '':>9}")
    if summary["zones"]:
        lines.append("per zone (over cases; lesions by centroid):")
        for name, z in summary["zones"].items():
            les = z["lesions"]
            lines.append(f"  {name:<7} Dice {format_mean_sd(z['voxel']['dice'])}, pooled Dice "
                         f"{_num(z['pooled']['dice'], 3)}, lesions {les['n_detected']}/{les['n_truth_lesions']} "
                         f"detected, {les['n_false_positive']} FP")
    les = summary["lesions"]
    sens = "n/a" if les["sensitivity"] is None or np.isnan(les["sensitivity"]) else f"{100 * les['sensitivity']:.1f} %"
    lines.append(f"lesion detection: {les['n_detected']}/{les['n_truth_lesions']} truth lesions detected ({sens}), "
                 f"{les['n_false_positive']} false positives ({_num(les['false_positives_per_case'], 2)} per case)")
    lines.append("  by size: " + ", ".join(
        f"{name} {int(b['n_detected'])}/{int(b['n_truth'])}" for name, b in les["by_size"].items()))
    if cases["n_no_lungs"]:
        lines.append(f"{cases['n_no_lungs']} case(s): no lungs found (scored with an empty prediction)")
    lines.append("note: " + SLICEWISE_NOTE)
    if summary["synthetic"]:
        lines.append(f"*** {SYNTHETIC_NOTE} ***")
    return "\n".join(lines)
