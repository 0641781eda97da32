"""Diagnosis only (calibration phantoms): what candidates at a lower "seed" threshold would do
to Dice, before outline growth and the magnified look.

Per tumour case of the 40 full-size calibration phantoms, the Dice of the kept components:
* card: components at 0.45 (>= 30 mm3) the shipped classifier keeps at its card cut-off 0.489;
* seed 0.2, outline at 0.2: components at 0.2 (>= 30 mm3) it keeps at 0.091 (the rule cut-off
  on these candidates, ``lower_threshold_0.2.json``), outlined by the whole 0.2 component;
* seed 0.2, two-level outline: the same lesions outlined by their voxels at >= 0.45 when those
  make >= 30 mm3, else by the 0.2 component.
Scores are the ``<case>.A.npy`` files ``lower_threshold.py``/``gate.py`` left beside the
candidates, numbered as ``extract.candidate_labels`` numbers them.

Usage: seed_threshold_dice.py OUT.json DATA:CACHE:CAND045:CAND02 [...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lungtumorseg.evaluation.probability_cache import cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402
from extract import MIN_MM3, candidate_labels  # noqa: E402
from maps import map_key  # noqa: E402

CARD_CUTOFF, LOW, HIGH = 0.4891751557588577, 0.2, 0.45


def kept_numbers(prob: np.ndarray, threshold: float, spacing, scores: np.ndarray,
                 cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """``extract.py``'s candidates at ``threshold`` (numbered 1..K) and the numbers of those
    scoring at least ``cutoff``."""
    candidates, keep, _, _ = candidate_labels(prob, threshold, spacing)
    assert len(keep) == len(scores)
    return candidates, np.nonzero(scores >= cutoff)[0] + 1


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * (a & b).sum() / total) if total else 1.0


def main() -> None:
    out = Path(sys.argv[1])
    low_cutoff = json.loads((Path(__file__).resolve().parent / "lower_threshold_0.2.json").read_text())["lower threshold"]["cutoff"]
    package = load_package(default_package_dir())
    key = map_key(package)
    rows = []
    for spec in sys.argv[2:]:
        data, cache, cand_high, cand_low = (Path(p) for p in spec.split(":"))
        for case in discover_cases(data):
            label = read_image(case.label)
            truth = sitk.GetArrayFromImage(label) > 0
            if not truth.any():
                continue
            spacing = label.GetSpacing()
            voxel = float(np.prod(spacing))
            prob, _ = cached_probability(case, package, 1, cache, key)
            card, card_kept = kept_numbers(prob, HIGH, spacing, np.load(cand_high / f"{case.name}.A.npy"), CARD_CUTOFF)
            low, low_kept = kept_numbers(prob, LOW, spacing, np.load(cand_low / f"{case.name}.A.npy"), low_cutoff)
            card_mask, low_mask = np.isin(card, card_kept), np.isin(low, low_kept)
            # two-level outline: a kept 0.2 lesion keeps only its part at >= 0.45 when that makes >= 30 mm3
            high = low_mask & (prob >= HIGH)
            core_mm3 = np.bincount(low[high], minlength=low.max() + 1) * voxel
            two = np.where(np.isin(low, low_kept[core_mm3[low_kept] >= MIN_MM3]), high, low_mask)
            rows.append({"case": f"{data.name}/{case.name}", "card": dice(card_mask, truth),
                         "seed0.2_outline0.2": dice(low_mask, truth), "seed0.2_two_level": dice(two, truth)})
            print(rows[-1], flush=True)
    summary = {k: float(np.mean([r[k] for r in rows])) for k in ("card", "seed0.2_outline0.2", "seed0.2_two_level")}
    print("mean Dice over", len(rows), "tumour cases:", summary)
    out.write_text(json.dumps({"mean_dice": summary, "cases": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
