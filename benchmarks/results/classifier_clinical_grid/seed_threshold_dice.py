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


def tumour_case_maps(specs: list[str], package, key: str):
    """Each tumour phantom of ``DATA:CACHE:CAND_HIGH:CAND_LOW`` specs, with what the Dice
    counts need: (``set/case`` name, truth mask, spacing, normal map, the classifier's scores of
    the candidates at the card threshold and at the low one)."""
    for spec in specs:
        data, cache, cand_high, cand_low = (Path(p) for p in spec.split(":"))
        for case in discover_cases(data):
            label = read_image(case.label)
            truth = sitk.GetArrayFromImage(label) > 0
            if not truth.any():
                continue
            if not (cache / f"{case.name}-{key}.json").is_file():
                # cached_probability would run the whole pipeline, magnified look included, in its place
                raise SystemExit(f"no normal map of {case.name} under {key} in {cache}: make it with maps.py "
                                 "(the key holds the core version: maps of another version must be remade)")
            prob, _ = cached_probability(case, package, 1, cache, key)
            yield (f"{data.name}/{case.name}", truth, label.GetSpacing(), prob,
                   np.load(cand_high / f"{case.name}.A.npy"), np.load(cand_low / f"{case.name}.A.npy"))


def kept_masks(prob: np.ndarray, spacing, high_scores: np.ndarray, low_scores: np.ndarray, high_cutoff: float,
               low_cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kept outlines: components at the card threshold kept at ``high_cutoff``; components at
    the low threshold kept at ``low_cutoff``, whole and two-level (a kept low-threshold lesion
    keeps only its part at >= 0.45 when that makes >= 30 mm3)."""
    high, high_kept = kept_numbers(prob, HIGH, spacing, high_scores, high_cutoff)
    low, low_kept = kept_numbers(prob, LOW, spacing, low_scores, low_cutoff)
    low_mask = np.isin(low, low_kept)
    core = low_mask & (prob >= HIGH)
    core_mm3 = np.bincount(low[core], minlength=low.max() + 1) * float(np.prod(spacing))
    two_level = np.where(np.isin(low, low_kept[core_mm3[low_kept] >= MIN_MM3]), core, low_mask)
    return np.isin(high, high_kept), low_mask, two_level


def main() -> None:
    out = Path(sys.argv[1])
    low_cutoff = json.loads((Path(__file__).resolve().parent / "lower_threshold_0.2.json").read_text())["lower threshold"]["cutoff"]
    package = load_package(default_package_dir())
    rows = []
    for name, truth, spacing, prob, high_scores, low_scores in tumour_case_maps(sys.argv[2:], package, map_key(package)):
        card_mask, low_mask, two = kept_masks(prob, spacing, high_scores, low_scores, CARD_CUTOFF, low_cutoff)
        rows.append({"case": name, "card": dice(card_mask, truth),
                     "seed0.2_outline0.2": dice(low_mask, truth), "seed0.2_two_level": dice(two, truth)})
        print(rows[-1], flush=True)
    summary = {k: float(np.mean([r[k] for r in rows])) for k in ("card", "seed0.2_outline0.2", "seed0.2_two_level")}
    print("mean Dice over", len(rows), "tumour cases:", summary)
    out.write_text(json.dumps({"mean_dice": summary, "cases": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
