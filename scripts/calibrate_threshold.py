"""Choose a package's probability threshold on its VALIDATION cases and record it in the card.

Runs the full pipeline once per validation case (the split the card records), keeps the
probability map, and picks the threshold that maximises the pooled Dice over those cases
(grid 0.10-0.90). Held-out data are never used. The weights are untouched.

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

from lungtumorseg.io import read_image, write_text_atomic  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from lungtumorseg.pipeline import SegmentOptions, segment  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

GRID = np.round(np.arange(0.10, 0.91, 0.05), 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    package = load_package(args.model)
    names = set(package.card.raw["training"]["validation_cases"])
    cases = [c for c in discover_cases(args.data) if c.name in names]
    if not cases:
        parser.error("none of the card's validation cases is in --data")
    inter, pred_sum, truth_sum = np.zeros(len(GRID)), np.zeros(len(GRID)), 0.0
    for case in cases:
        image = read_image(case.image)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        prob = sitk.GetArrayFromImage(segment(image, package, SegmentOptions(threads=args.threads)).probability)
        for k, t in enumerate(GRID):
            pred = prob >= t
            inter[k] += (pred & truth).sum()
            pred_sum[k] += pred.sum()
        truth_sum += truth.sum()
        print(f"{case.name} done", flush=True)
    dice = 2 * inter / np.maximum(pred_sum + truth_sum, 1)
    best = int(np.argmax(dice))
    for t, d in zip(GRID, dice):
        print(f"threshold {t:.2f}: pooled Dice {d:.3f}{'  <- chosen' if t == GRID[best] else ''}")
    card_path = args.model / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["postprocessing"]["threshold"] = float(GRID[best])
    card.setdefault("metrics", {})["threshold_calibration"] = {
        "cases": sorted(names), "grid": GRID.tolist(), "pooled_dice": [round(float(d), 4) for d in dice],
        "chosen": float(GRID[best]), "note": "chosen on the validation split only",
    }
    write_text_atomic(json.dumps(card, indent=2) + "\n", card_path)
    print(f"threshold {GRID[best]:.2f} written to {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
