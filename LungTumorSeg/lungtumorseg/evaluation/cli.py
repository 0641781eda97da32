"""``lungtumorseg evaluate``: run a model package over a labelled data set and report metrics.

Usage::

    lungtumorseg evaluate --data DIR --model PKG [-o OUTDIR] [--threshold T] [--threads N]
                          [--limit N] [--detection-iou X] [--synthetic] [--no-plots]
                          [--save-predictions] [--device cpu]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import LungTumorSegError


def add_evaluate_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``evaluate`` subcommand to the main parser's subparsers."""
    p = sub.add_parser(
        "evaluate",
        help="evaluate a model package on labelled data (Dice, HD95, lesion detection, zones)",
        description="Segment every labelled case of a data set (MSD layout or images/labels) with a "
                    "model package and compare with the reference labels. Writes metrics_cases.csv, "
                    "metrics_zones.csv, lesions.csv, summary.json and figures.",
    )
    p.add_argument("--data", type=Path, required=True, help="MSD folder (dataset.json, imagesTr, labelsTr) or images/labels folders")
    p.add_argument("--model", type=Path, required=True, help="model package folder")
    p.add_argument("-o", "--output", type=Path, default=Path("evaluation"), help="output folder (default: ./evaluation)")
    p.add_argument("--threshold", type=float, default=None, help="probability threshold (default: the model card's)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N cases")
    p.add_argument("--detection-iou", type=float, default=0.0,
                   help="IoU a prediction needs with a truth lesion to detect it (default 0: any overlap)")
    p.add_argument("--synthetic", action="store_true",
                   help="label the results as synthetic-phantom results (automatic when dataset.json says phantom)")
    p.add_argument("--no-plots", action="store_true", help="do not write the PNG figures")
    p.add_argument("--save-predictions", action="store_true", help="also write each case's lesion labels to OUTDIR/predictions")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.set_defaults(runner=run_evaluate)
    return p


def run_evaluate(args: argparse.Namespace) -> int:
    """Validate the arguments, run the evaluation, return the exit code."""
    from .report import EvaluateOptions, evaluate_dataset

    from ..cli import checked_device  # the command line's one device check, before any case is read

    checked_device(args.device)
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise LungTumorSegError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.limit is not None and args.limit < 1:
        raise LungTumorSegError("--limit must be at least 1")
    if not 0.0 <= args.detection_iou <= 1.0:
        raise LungTumorSegError("--detection-iou must be between 0 and 1")
    if args.threads is not None and args.threads < 1:
        raise LungTumorSegError("--threads must be at least 1")
    options = EvaluateOptions(
        threshold=args.threshold, threads=args.threads, limit=args.limit, min_iou=args.detection_iou,
        synthetic=True if args.synthetic else None, plots=not args.no_plots,
        save_predictions=args.save_predictions, device=args.device,
    )
    evaluate_dataset(args.data, args.model, args.output, options, log=lambda m: print(m, flush=True))
    return 0
