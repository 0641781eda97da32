"""Choose a package's operating point (threshold, minimum lesion volume) on its VALIDATION
cases and record it in the card.

Runs the full pipeline once per validation case (the split the card records), keeps the
probability map, and evaluates every pair of the grids below with
:mod:`lungtumorseg.evaluation.calibration`: best mean Dice over tumour cases, then, among
pairs within 0.005 of it, the fewest false-positive lesions per case. Held-out data are
never used. The weights are untouched.

    python scripts/calibrate_threshold.py --model PKG --data TRAINING_DATA_FOLDER
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
    calibration_record, case_curve, choose_operating_point, summarise_curves,
)
from lungtumorseg.io import read_image, write_text_atomic  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from lungtumorseg.pipeline import SegmentOptions, segment  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

THRESHOLDS = np.round(np.arange(0.15, 0.86, 0.05), 2)
MIN_VOLUMES_MM3 = (30.0, 60.0, 120.0, 250.0, 400.0)  # equivalent diameters 3.9, 4.9, 6.1, 7.8, 9.1 mm
TOLERANCE = 0.005


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dry-run", action="store_true", help="print the table and the choice, leave the card alone")
    parser.add_argument("--save-curves", type=Path, help="also save every case's curves (.npz) for other rules")
    args = parser.parse_args()
    package = load_package(args.model)
    names = set(package.card.raw["training"]["validation_cases"])
    cases = [c for c in discover_cases(args.data) if c.name in names]
    if not cases:
        parser.error("none of the card's validation cases is in --data")
    curves = []
    for case in cases:
        image = read_image(case.image)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        prob = sitk.GetArrayFromImage(segment(image, package, SegmentOptions(threads=args.threads)).probability)
        curves.append(case_curve(prob, truth, image.GetSpacing(), THRESHOLDS, MIN_VOLUMES_MM3))
        print(f"{case.name} done", flush=True)
    if args.save_curves:
        np.savez(args.save_curves, cases=[c.name for c in cases], thresholds=THRESHOLDS, min_volumes_mm3=MIN_VOLUMES_MM3,
                 **{field: np.array([getattr(c, field) for c in curves])
                    for field in ("dice", "false_positives", "detected", "detected_large", "n_truth", "n_large")})
    summary = summarise_curves(curves)
    chosen = choose_operating_point(summary, THRESHOLDS, MIN_VOLUMES_MM3, TOLERANCE)
    print("mean Dice (tumour cases) / FP per case / sensitivity >=10 mm; rows = threshold, columns = min lesion mm3")
    print("      " + "".join(f"{v:>19.0f}" for v in MIN_VOLUMES_MM3))
    for a, t in enumerate(THRESHOLDS):
        cells = "".join(f"{summary['mean_dice'][a, b]:>8.3f}/{summary['false_positives_per_case'][a, b]:<5.1f}/"
                        f"{summary['sensitivity_large'][a, b]:<4.2f}" for b in range(len(MIN_VOLUMES_MM3)))
        print(f"{t:>6.2f}{cells}")
    print(f"chosen: threshold {chosen.threshold:.2f}, min lesion {chosen.min_lesion_mm3:.0f} mm3 -> "
          f"mean Dice {chosen.mean_dice:.3f}, {chosen.false_positives_per_case:.2f} FP/case, "
          f"sensitivity >=10 mm {chosen.sensitivity_large:.2f}, tumour-free clean {chosen.clean_fraction:.2f}")
    if args.dry_run:
        return 0
    card_path = args.model / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["postprocessing"]["threshold"] = chosen.threshold
    card["postprocessing"]["min_lesion_mm3"] = chosen.min_lesion_mm3
    card.setdefault("metrics", {})["threshold_calibration"] = calibration_record(
        [c.name for c in cases], THRESHOLDS, MIN_VOLUMES_MM3, summary, chosen, TOLERANCE)
    write_text_atomic(json.dumps(card, indent=2) + "\n", card_path)
    print(f"operating point written to {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
