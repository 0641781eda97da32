"""Accuracy of a model package on held-out phantoms (seeds never used in training).

Prints and saves (``benchmarks/results/heldout/``) the full evaluation report, then the
acceptance criteria of the demo model:

* mean Dice over tumour-containing cases (target ≥ 0.85),
* lesion sensitivity for lesions ≥ 10 mm (target ≥ 0.95),
* false-positive lesions per case (target ≤ 0.3),
* share of tumour-free cases with no lesion at all (target ≥ 0.90).

It also prints which tumours are found by the phantoms' own description of them: kind
(solid, part-solid, ground-glass), location (peripheral, juxtapleural, central) and zone.

Baseline in the same run: a classical segmentation (voxels inside the lung mask above
−400 HU, morphological opening with a 3 mm ball to remove vessels), evaluated on the same
cases; the ratio of mean Dice is printed. Phantom numbers are NOT clinical accuracy.

Training seeds of the demo package: 100–159; the example CT is seed 424242.
Held-out seeds here start at 10000.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

import lungtumorseg  # noqa: E402
from lungtumorseg.evaluation.case import evaluate_prediction  # noqa: E402
from lungtumorseg.evaluation.fields import SYNTHETIC_NOTE  # noqa: E402
from lungtumorseg.evaluation.plots import plot_detection_by_tumour_type  # noqa: E402
from lungtumorseg.evaluation.report import EvaluateOptions, evaluate_dataset  # noqa: E402
from lungtumorseg.evaluation.targets import HELDOUT_FIELDS, ISSUE_TARGETS  # noqa: E402
from lungtumorseg.evaluation.tumour_types import GROUPINGS, RESPONSE_PEAK, detection_table, tumour_outcomes  # noqa: E402
from lungtumorseg.io import read_image, write_text_atomic  # noqa: E402
from lungtumorseg.lungs import find_lungs  # noqa: E402
from lungtumorseg.models.accuracy import FULL_SIZE_BLOCK, SMALL_BLOCK  # noqa: E402
from lungtumorseg.models.package import default_package_dir  # noqa: E402
from lungtumorseg.phantoms import PhantomConfig, write_msd_dataset  # noqa: E402
from lungtumorseg.precision import PRECISIONS  # noqa: E402
from lungtumorseg.preprocess import to_canonical, to_input_grid  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

HELDOUT_SEED = 10000


def classical_baseline(image: sitk.Image) -> np.ndarray:
    """Dense tissue inside the lungs minus thin structures: a non-learned reference."""
    spacing = (1.5, 1.5, 1.5)
    canonical = to_canonical(image, spacing)
    hu = sitk.GetArrayFromImage(canonical)
    lungs = find_lungs(hu, spacing)
    if not lungs.found:
        return np.zeros(sitk.GetArrayFromImage(image).shape, dtype=bool)
    dense = (hu > -400) & lungs.mask
    ball = np.sum(np.square(np.mgrid[-2:3, -2:3, -2:3]), axis=0) <= 4  # radius 2 voxels = 3 mm
    dense = ndi.binary_opening(dense, structure=ball)
    mask = sitk.GetImageFromArray(dense.astype(np.float32))
    mask.CopyInformation(canonical)
    return sitk.GetArrayFromImage(to_input_grid(mask, image)) > 0.5


def criteria(outdir: Path) -> dict[str, float]:
    """The four acceptance numbers from the evaluation's CSV files."""
    with open(outdir / "metrics_cases.csv") as fh:
        cases = list(csv.DictReader(fh))
    with open(outdir / "lesions.csv") as fh:
        lesions = list(csv.DictReader(fh))
    tumour = [c for c in cases if float(c["truth_volume_ml"]) > 0]
    free = [c for c in cases if float(c["truth_volume_ml"]) == 0]
    big = [les for les in lesions if les["kind"] == "truth" and float(les["diameter_mm"]) >= 10.0]
    return {
        "n_cases": len(cases),
        "n_tumour_cases": len(tumour),
        "n_tumour_free_cases": len(free),
        "mean_dice_tumour_cases": float(np.mean([float(c["dice"]) for c in tumour])) if tumour else float("nan"),
        "n_lesions_ge_10mm": len(big),
        "sensitivity_lesions_ge_10mm": float(np.mean([les["matched"] == "True" for les in big])) if big else float("nan"),
        "false_positive_lesions_per_case": float(np.mean([float(c["n_false_positive"]) for c in cases])),
        "tumour_free_cases_without_lesion": float(np.mean([int(c["n_pred_lesions"]) == 0 for c in free])) if free else float("nan"),
    }


def target_measures(numbers: dict) -> dict[str, float]:
    """``criteria``'s numbers under the names of :data:`ISSUE_TARGETS`."""
    return {key: numbers[field] for key, field in HELDOUT_FIELDS.items()}


def meets_targets(numbers: dict) -> bool:
    """Whether ``criteria``'s numbers meet all four of the issue's targets."""
    measured = target_measures(numbers)
    return all(target.met(measured[key]) for key, target in ISSUE_TARGETS.items())


def card_key(phantom_size: str) -> str:
    """The card's metrics block for held-out phantoms of ``phantom_size``: the small preset keeps
    the historical ``heldout_phantoms``; the clinical grid has its own block beside it."""
    return FULL_SIZE_BLOCK if phantom_size == "full" else SMALL_BLOCK


def write_card_block(model: Path, numbers: dict, command: str) -> str:
    """Store ``numbers`` (with ``phantom_size``) in ``model``'s card, stamped with the package
    version and weight checksums they describe (weights untouched); returns the block's key."""
    card_path = model / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    key = card_key(numbers["phantom_size"])
    card.setdefault("metrics", {})[key] = {
        **numbers,
        "command": command,
        "lungtumorseg_version": lungtumorseg.__version__,  # the pipeline (lung finder, ...) measured
        "model_version": card["version"],  # the package measured: a new version needs a new run
        "weights_sha256": {part: entry["sha256"] for part, entry in card["weights"].items()},  # and new weights
    }
    write_text_atomic(json.dumps(card, indent=2) + "\n", card_path)
    return key


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=default_package_dir())
    parser.add_argument("--cases", type=int, default=24)
    parser.add_argument("--seed", type=int, default=HELDOUT_SEED)
    parser.add_argument("--size", choices=["small", "full"], default="small")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", choices=list(PRECISIONS), default="fp32",
                        help="of the networks' forward passes (the card's metrics are float32 ones)")
    parser.add_argument("--data", type=Path, default=None, help="reuse this held-out folder (default: generate)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "heldout")
    parser.add_argument("--cache", type=Path, default=None,
                        help="also keep each case's probability map in this folder, the cache froc_phantoms.py "
                             "--cache reads, so the FROC of the same cases needs no second inference")
    parser.add_argument("--write-card", action="store_true",
                        help="store these numbers in the model card's metrics (weights are untouched)")
    args = parser.parse_args()
    if args.seed < 1000:
        parser.error("held-out seeds must not overlap the training seeds (0-999)")
    data = args.data or ROOT / "benchmarks" / ".cache" / f"heldout-{args.size}-{args.seed}-{args.cases}"
    if not (data / "dataset.json").is_file():
        print(f"generating {args.cases} held-out phantoms (seeds {args.seed}..) in {data}", flush=True)
        write_msd_dataset(data, args.cases, args.seed, PhantomConfig(size=args.size))
    options = EvaluateOptions(threads=args.threads, synthetic=True, precision=args.precision,
                              probability_cache=args.cache)
    summary = evaluate_dataset(data, args.model, args.out, options)
    numbers = criteria(args.out)

    # Baseline on the same cases.
    base_dice = []
    for case in discover_cases(data):
        image = read_image(case.image)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        if not truth.any():
            continue
        pred = classical_baseline(image)
        ev = evaluate_prediction(pred.astype(np.uint16), pred.astype(np.float32), truth, image.GetSpacing(),
                                 origin=image.GetOrigin(), direction=image.GetDirection(), case=case.name)
        base_dice.append(ev["voxel"]["dice"])
    numbers["baseline_classical_mean_dice_tumour_cases"] = float(np.mean(base_dice)) if base_dice else float("nan")
    ratio = numbers["mean_dice_tumour_cases"] / max(numbers["baseline_classical_mean_dice_tumour_cases"], 1e-9)
    numbers["dice_ratio_model_to_baseline"] = ratio
    numbers["held_out_seeds"] = [args.seed, args.seed + args.cases - 1]
    numbers["phantom_size"] = args.size
    numbers["precision"] = args.precision
    numbers["note"] = "synthetic phantoms: checks the software and the demo weights, not clinical accuracy"
    measured = target_measures(numbers)
    print(f"\nheld-out phantoms ({numbers['n_cases']} cases: {numbers['n_tumour_cases']} with tumour, "
          f"{numbers['n_tumour_free_cases']} tumour-free; {numbers['n_lesions_ge_10mm']} lesions >= 10 mm) — synthetic, not clinical")
    for key, target in ISSUE_TARGETS.items():
        ok = target.met(measured[key])
        print(f"  {target.label:34s} {measured[key]:6.3f}  (target {target.describe()})  {'met' if ok else 'NOT met'}")
    numbers["meets_targets"] = meets_targets(numbers)
    outcomes = tumour_outcomes(args.out / "lesions.csv", data / "meta")
    numbers["detection_by_phantom_tumour"] = {"all": detection_table(outcomes),
                                              "ge_10mm": detection_table(outcomes, 10.0)}
    print(f"  tumours found / total (network responded: peak >= {RESPONSE_PEAK}), by phantom description:")
    for grouping in GROUPINGS:
        table = numbers["detection_by_phantom_tumour"]["all"][grouping]
        print(f"    {grouping:9s} " + ", ".join(f"{group} {v['detected']}/{v['total']} ({v['responded']})"
                                               for group, v in table.items()))
    plot_detection_by_tumour_type(numbers["detection_by_phantom_tumour"]["all"],
                                  args.out / "detection_by_tumour_type.png", SYNTHETIC_NOTE)
    (args.out / "criteria.json").write_text(json.dumps(numbers, indent=2) + "\n")
    print(f"  classical baseline mean Dice        {numbers['baseline_classical_mean_dice_tumour_cases']:6.3f}  "
          f"ratio model/baseline {ratio:.2f}")
    if args.write_card:
        extra = {"pooled_dice": summary["pooled"].get("dice"),
                 "slicewise_dice_mean": summary["voxel"].get("slicewise_dice", {}).get("mean"),
                 "hd95_mm_median": summary["voxel"].get("hd95_mm", {}).get("median")}
        command = "python benchmarks/heldout_phantoms.py " + " ".join(sys.argv[1:])
        key = write_card_block(args.model, {**numbers, **extra}, command)
        print(f"metrics.{key} written to {args.model / 'model.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
