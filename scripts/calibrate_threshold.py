"""Choose a package's operating point on its VALIDATION cases and record it in the card:
probability threshold, minimum lesion volume and (optionally) test-time mirroring.

Runs the full pipeline once per validation case (the split the card records) and
configuration, keeps the probability map, and evaluates every pair of the grids below with
:mod:`lungtumorseg.evaluation.calibration`: best mean Dice over tumour cases, then, among
points within 0.005 of it, the fewest false-positive lesions per case. With
``--try-mirror-axes 2`` the same is done with left-right test-time mirroring, which is kept
only if it wins by the same rule (it doubles inference time). Held-out data are never used.
The weights are untouched.

    python scripts/calibrate_threshold.py --model PKG --data TRAINING_DATA_FOLDER [--try-mirror-axes 2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.evaluation.calibration import (  # noqa: E402
    OperatingPoint, calibration_record, case_curve, choose_among, choose_operating_point, summarise_curves,
)
from lungtumorseg.io import read_image, write_text_atomic  # noqa: E402
from lungtumorseg.models.package import ModelPackage, load_package  # noqa: E402
from lungtumorseg.pipeline import SegmentOptions, segment  # noqa: E402
from lungtumorseg.training.dataset import CasePaths, discover_cases  # noqa: E402

THRESHOLDS = np.round(np.arange(0.15, 0.86, 0.05), 2)
MIN_VOLUMES_MM3 = (30.0, 60.0, 120.0, 250.0, 400.0)  # equivalent diameters 3.9, 4.9, 6.1, 7.8, 9.1 mm
TOLERANCE = 0.005


def calibrate(package: ModelPackage, cases: list[CasePaths], threads: int, save_curves: Path | None):
    """Curves of every validation case under the package's current inference settings."""
    curves = []
    for case in cases:
        image = read_image(case.image)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        prob = sitk.GetArrayFromImage(segment(image, package, SegmentOptions(threads=threads)).probability)
        curves.append(case_curve(prob, truth, image.GetSpacing(), THRESHOLDS, MIN_VOLUMES_MM3))
        print(f"  {case.name} done", flush=True)
    if save_curves:
        np.savez(save_curves, cases=[c.name for c in cases], thresholds=THRESHOLDS, min_volumes_mm3=MIN_VOLUMES_MM3,
                 **{field: np.array([getattr(c, field) for c in curves])
                    for field in ("dice", "false_positives", "detected", "detected_large", "n_truth", "n_large")})
    summary = summarise_curves(curves)
    return summary, choose_operating_point(summary, THRESHOLDS, MIN_VOLUMES_MM3, TOLERANCE)


def print_table(summary: dict[str, np.ndarray], chosen: OperatingPoint) -> None:
    print("mean Dice (tumour cases) / FP per case / sensitivity >=10 mm; rows = threshold, columns = min lesion mm3")
    print("      " + "".join(f"{v:>19.0f}" for v in MIN_VOLUMES_MM3))
    for a, t in enumerate(THRESHOLDS):
        cells = "".join(f"{summary['mean_dice'][a, b]:>8.3f}/{summary['false_positives_per_case'][a, b]:<5.1f}/"
                        f"{summary['sensitivity_large'][a, b]:<4.2f}" for b in range(len(MIN_VOLUMES_MM3)))
        print(f"{t:>6.2f}{cells}")
    print(f"best: threshold {chosen.threshold:.2f}, min lesion {chosen.min_lesion_mm3:.0f} mm3 -> "
          f"mean Dice {chosen.mean_dice:.3f}, {chosen.false_positives_per_case:.2f} FP/case, "
          f"sensitivity >=10 mm {chosen.sensitivity_large:.2f}, tumour-free clean {chosen.clean_fraction:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--try-mirror-axes", type=int, nargs="+", choices=(0, 1, 2),
                        help="also try test-time mirroring along these canonical axes (0 z, 1 y, 2 x = left-right)")
    parser.add_argument("--dry-run", action="store_true", help="print the tables and the choice, leave the card alone")
    parser.add_argument("--save-curves", type=Path, help="also save every case's curves (.npz prefix) for other rules")
    args = parser.parse_args()
    package = load_package(args.model)
    names = set(package.card.raw["training"]["validation_cases"])
    cases = [c for c in discover_cases(args.data) if c.name in names]
    if not cases:
        parser.error("none of the card's validation cases is in --data")
    options = [[]] + ([list(args.try_mirror_axes)] if args.try_mirror_axes else [])
    results = []
    for mirror in options:
        package.card.raw.setdefault("inference", {})["mirror_axes"] = mirror  # in memory only
        print(f"test-time mirroring {mirror or 'off'}:", flush=True)
        save = args.save_curves.with_name(f"{args.save_curves.name}-mirror{''.join(map(str, mirror))}.npz") \
            if args.save_curves else None
        results.append(calibrate(package, cases, args.threads, save))
        print_table(*results[-1])
    pick = choose_among([chosen for _, chosen in results], TOLERANCE)
    summary, chosen = results[pick]
    print(f"chosen: mirroring {options[pick] or 'off'}, threshold {chosen.threshold:.2f}, "
          f"min lesion {chosen.min_lesion_mm3:.0f} mm3")
    if args.dry_run:
        return 0
    card_path = args.model / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["postprocessing"]["threshold"] = chosen.threshold
    card["postprocessing"]["min_lesion_mm3"] = chosen.min_lesion_mm3
    card.setdefault("inference", {})["mirror_axes"] = options[pick]
    record = calibration_record([c.name for c in cases], THRESHOLDS, MIN_VOLUMES_MM3, summary, chosen, TOLERANCE)
    record["mirror_axes_tried"] = {json.dumps(m): {"mean_dice": round(p.mean_dice, 4),
                                                   "false_positives_per_case": round(p.false_positives_per_case, 3),
                                                   "sensitivity_large": round(p.sensitivity_large, 3)}
                                   for m, (_, p) in zip(options, results)}
    card.setdefault("metrics", {})["threshold_calibration"] = record
    write_text_atomic(json.dumps(card, indent=2) + "\n", card_path)
    print(f"operating point written to {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
