"""``lungtumorseg demo``: the shipped example chest CT through the core pipeline, checked
against its truth.

Why: a batch user without Slicer needs one command that shows the pipeline works on this
machine and what its output looks like, with nothing to download: the example (a synthetic
phantom, seed 424242, three tumours of 18-20 mm) and the demo model ship with the module.
The Slicer demo with rendered pictures is ``make demo`` (``scripts/demo.py``); this is its
core-only counterpart. Writes, into the output folder: the lesion label image on the CT's
grid, the run's report (JSON) and the comparison with the phantom's truth (JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .example import SAMPLE_NAME, verified_sample_files


def truth_comparison(labels: sitk.Image, truth: sitk.Image) -> dict:
    """How the lesion labels compare with the phantom's truth: tumours found (any overlap),
    false lesions, and the Dice of all lesions against all tumours."""
    from .evaluation.lesions import detect_lesions
    from .evaluation.metrics import confusion, overlap_metrics

    pred = sitk.GetArrayFromImage(labels) > 0
    true = sitk.GetArrayFromImage(truth) > 0
    detection = detect_lesions(pred, true, truth.GetSpacing())
    return {"tumours": detection.n_truth, "tumours_found": detection.n_detected,
            "false_lesions": detection.n_false_positive,
            "dice_all_lesions": float(overlap_metrics(confusion(pred, true))["dice"]) if true.any() else None,
            "note": "synthetic phantom: checks the software and the demo weights, not clinical accuracy"}


def add_demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="segment the shipped example chest CT and compare with its truth (no Slicer)")
    p.add_argument("-o", "--output", type=Path, default=Path("demo-core-output"),
                   help="output folder (default: ./demo-core-output)")
    p.add_argument("--model", type=Path, default=None, help="model package folder (default: the demo package)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda or cuda:N")
    p.add_argument("--progress", choices=["bar", "lines", "none"], default="bar", help="progress display")
    p.add_argument("--no-magnified-look", action="store_true",
                   help="skip the card's magnified second look (faster; as predict --no-magnified-look)")
    p.set_defaults(runner=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Segment the example, write labels, report and truth comparison, print a summary."""
    from .cli import checked_device
    from .console import TerminalProgress
    from .io import read_image, write_image, write_text_atomic
    from .models.package import default_package_dir, load_package
    from .pipeline import SegmentOptions, segment

    device = checked_device(args.device)
    ct, truth_path, meta = verified_sample_files()
    package = load_package(args.model or default_package_dir())
    package.verify_all()
    print(f"example: {ct.name}, a synthetic chest CT (phantom seed {meta['phantom']['seed']}, "
          f"{len(meta['tumours'])} tumours), not a patient", file=sys.stderr)
    if package.card.is_demo:
        print(f"note: model {package.card.name}: {package.card.warning}", file=sys.stderr)
    image = read_image(ct)
    options = SegmentOptions(threads=args.threads, device=device, magnified_look=not args.no_magnified_look)
    result = segment(image, package, options, TerminalProgress(args.progress))
    comparison = truth_comparison(result.labels, read_image(truth_path))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    write_image(result.labels, out / f"{SAMPLE_NAME}_lesions.nii.gz")
    write_text_atomic(json.dumps(result.report(str(ct), package), indent=2) + "\n", out / f"{SAMPLE_NAME}_report.json")
    write_text_atomic(json.dumps(comparison, indent=2) + "\n", out / f"{SAMPLE_NAME}_truth_comparison.json")
    print(result.message)
    for lesion in result.lesions:
        print(f"  {lesion.summary()}")
    dice = comparison["dice_all_lesions"]
    print(f"against the phantom's truth: {comparison['tumours_found']} of {comparison['tumours']} tumours found, "
          f"{comparison['false_lesions']} false lesion(s), Dice {np.nan if dice is None else dice:.2f} "
          f"(synthetic data, not clinical accuracy); outputs in {out}")
    return 0
