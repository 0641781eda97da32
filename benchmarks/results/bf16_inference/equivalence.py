"""Do bfloat16 forward passes keep the lesions float32 keeps? (PLAN.md: the rule.)

For every case of each set, the float32 and the bf16 probability maps of one package (both
from probability caches, computed by the pipeline when absent) go through the same lesion
labelling at the card's operating point. Per case: whether the kept lesions differ (any
lesion of one run touching none of the other's), the voxel Dice of the two lesion masks,
the largest probability difference; per precision, the issue's four measures.

    python equivalence.py --set NAME DATA FP32_CACHE BF16_CACHE [--set ...] [--model PKG]
        [--threads 1] [--out equivalence.json]

Synthetic phantoms: this checks the software's numerics, not clinical accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.evaluation.lesions import detect_lesions  # noqa: E402
from lungtumorseg.evaluation.metrics import confusion, overlap_metrics  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import ModelPackage, default_package_dir, load_package  # noqa: E402
from lungtumorseg.relabel import MeasureContext, lesions_from_probability  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

PRECISIONS = ("fp32", "bf16")
LARGE_MM = 10.0


def lesion_mask(prob: np.ndarray, image: sitk.Image, package: ModelPackage, lung_z) -> np.ndarray:
    """The pipeline's kept lesions (card threshold and filter) from a map on the image grid."""
    probability = sitk.GetImageFromArray(prob.astype(np.float32))
    probability.CopyInformation(image)
    threshold = float(package.card.raw["postprocessing"]["threshold"])
    labels, _ = lesions_from_probability(probability, image, threshold, package.card.lesion_filter,
                                         MeasureContext(tuple(lung_z) if lung_z else None))
    return sitk.GetArrayFromImage(labels) > 0


def compare_case(case, package: ModelPackage, caches: dict[str, Path], threads: int) -> dict:
    image = read_image(case.image)
    truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
    spacing = image.GetSpacing()
    row: dict = {"case": case.name, "tumours": 0}
    probs, masks = {}, {}
    for precision in PRECISIONS:
        key = cache_key(package, list(package.card.mirror_axes), precision)
        probs[precision], lung_z = cached_probability(case, package, threads, caches[precision], key, precision)
        masks[precision] = lesion_mask(probs[precision], image, package, lung_z)
        found = detect_lesions(masks[precision], truth, spacing)
        large = [r for r in found.truth if r.diameter_mm >= LARGE_MM]
        row["tumours"] = found.n_truth
        row[precision] = {
            "dice": overlap_metrics(confusion(masks[precision], truth))["dice"] if truth.any() else None,
            "lesions": found.n_predicted, "false_positives": found.n_false_positive,
            "large": len(large), "large_found": sum(r.matched for r in large),
        }
    between = detect_lesions(masks["bf16"], masks["fp32"], spacing)  # fp32 as the reference
    row["fp32_lesions_without_bf16"] = between.n_truth - between.n_detected
    row["bf16_lesions_without_fp32"] = between.n_false_positive
    row["lesions_differ"] = bool(row["fp32_lesions_without_bf16"] or row["bf16_lesions_without_fp32"])
    c = confusion(masks["bf16"], masks["fp32"])
    row["confusion_bf16_vs_fp32"] = {"tp": c.tp, "fp": c.fp, "fn": c.fn}
    row["max_probability_difference"] = float(np.abs(probs["bf16"] - probs["fp32"]).max())
    return row


def measures(rows: list[dict], precision: str) -> dict:
    """The issue's four measures of one precision over ``rows``."""
    tumour = [r[precision] for r in rows if r["tumours"]]
    free = [r[precision] for r in rows if not r["tumours"]]
    large = sum(r[precision]["large"] for r in rows)
    return {
        "mean_dice_tumour_cases": float(np.mean([t["dice"] for t in tumour])) if tumour else None,
        "large_tumours_found": sum(r[precision]["large_found"] for r in rows), "large_tumours": large,
        "false_positives": sum(r[precision]["false_positives"] for r in rows),
        "false_positives_per_case": sum(r[precision]["false_positives"] for r in rows) / len(rows),
        "tumour_free_clean": sum(f["lesions"] == 0 for f in free), "tumour_free": len(free),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", nargs=4, action="append", required=True, metavar=("NAME", "DATA", "FP32", "BF16"))
    parser.add_argument("--model", type=Path, default=default_package_dir())
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("equivalence.json"))
    args = parser.parse_args()
    package = load_package(args.model)
    result: dict = {"model": f"{package.card.name} {package.card.version}", "sets": {}}
    all_rows = []
    for name, data, fp32_cache, bf16_cache in args.set:
        rows = []
        for case in discover_cases(Path(data)):
            rows.append(compare_case(case, package, {"fp32": Path(fp32_cache), "bf16": Path(bf16_cache)},
                                     args.threads))
            r = rows[-1]
            print(f"{name} {r['case']}: lesions fp32 {r['fp32']['lesions']} bf16 {r['bf16']['lesions']}"
                  f"{' DIFFER' if r['lesions_differ'] else ''}, max |dp| {r['max_probability_difference']:.3f}",
                  flush=True)
        result["sets"][name] = {"data": data, "cases": rows, **{p: measures(rows, p) for p in PRECISIONS}}
        all_rows += rows
    tp = sum(r["confusion_bf16_vs_fp32"]["tp"] for r in all_rows)
    fp = sum(r["confusion_bf16_vs_fp32"]["fp"] for r in all_rows)
    fn = sum(r["confusion_bf16_vs_fp32"]["fn"] for r in all_rows)
    result["all"] = {
        "cases": len(all_rows),
        "cases_where_lesions_differ": sum(r["lesions_differ"] for r in all_rows),
        "pooled_dice_bf16_vs_fp32": 2 * tp / max(2 * tp + fp + fn, 1),
        "largest_probability_difference": max(r["max_probability_difference"] for r in all_rows),
        **{p: measures(all_rows, p) for p in PRECISIONS},
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    summary = result["all"]
    print(f"\n{summary['cases']} cases: lesions differ on {summary['cases_where_lesions_differ']}; pooled Dice "
          f"bf16 vs fp32 {summary['pooled_dice_bf16_vs_fp32']:.4f}; largest |dp| "
          f"{summary['largest_probability_difference']:.3f}")
    for name, block in [*result["sets"].items(), ("all", summary)]:
        for p in PRECISIONS:
            m = block[p]
            dice = "n/a" if m["mean_dice_tumour_cases"] is None else f"{m['mean_dice_tumour_cases']:.4f}"
            print(f"  {name:12s} {p}: mean Dice {dice}, tumours >= 10 mm "
                  f"{m['large_tumours_found']}/{m['large_tumours']}, false positives {m['false_positives']} "
                  f"({m['false_positives_per_case']:.3f}/case), tumour-free clean {m['tumour_free_clean']}/{m['tumour_free']}")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
