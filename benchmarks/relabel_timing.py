"""What "Update lesions" saves: new lesions from a kept probability map vs a new ``predict``.

On a clinical-size chest CT (512×512×300 phantom) the full pipeline runs once (the baseline:
what changing the threshold would cost without a kept map). Then the lesions are recomputed
from the map, as the Slicer module's "Update lesions" and ``lungtumorseg relabel`` do:

* from the one-byte percent map (what the module keeps), in the box of voxels at or above
  the threshold (:func:`lungtumorseg.relabel.lesions_from_percent`);
* for comparison, labelling and measuring the whole float map without the box.

Both at the card's operating point and with no lesion filter at all (many findings: the
measuring cost). Prints the seconds and the ratios measured in this run, and checks that
the recomputed lesions equal the pipeline's (card) and the whole-map path's (no filter). Writes ``benchmarks/results/relabel_timing.json``.
Run: ``python benchmarks/relabel_timing.py [--threads N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.measure import measure_lesions  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from clinical_case import add_timing_arguments, clinical_phantom, median_seconds  # noqa: E402
from lungtumorseg.pipeline import SegmentOptions, segment  # noqa: E402
from lungtumorseg.postprocess import LesionFilter, label_lesions  # noqa: E402
from lungtumorseg.relabel import MeasureContext, lesions_from_percent, probability_to_percent  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_timing_arguments(parser)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    package = load_package(args.model)
    case = clinical_phantom(args.seed)
    print(f"phantom {case.image.GetSize()} at {case.image.GetSpacing()} mm")

    start = time.perf_counter()
    result = segment(case.image, package, SegmentOptions(threads=args.threads))
    predict_s = time.perf_counter() - start
    print(f"predict (baseline): {predict_s:.1f} s, {len(result.lesions)} lesion(s)")

    rule, threshold = result.lesion_filter, result.threshold
    context = MeasureContext(result.lung_z_lps_mm, result.midline_x_lps_mm)
    percent = probability_to_percent(result.probability)
    update_s, (labels, lesions) = median_seconds(
        lambda: lesions_from_percent(percent, case.image, threshold, rule, context), args.repeats)
    same = bool(np.array_equal(sitk.GetArrayViewFromImage(labels), sitk.GetArrayViewFromImage(result.labels)))
    print(f"update from the percent map (box): {update_s:.2f} s; same lesions as predict: {same}")

    def whole_image(rule: LesionFilter):
        whole = label_lesions(result.probability, threshold, rule, ct=case.image,
                              lung_z_lps_mm=context.lung_z_lps_mm)
        return whole, measure_lesions(whole, case.image, result.probability, context.lung_z_lps_mm,
                                      context.midline_x_lps_mm)

    whole_s, _ = median_seconds(lambda: whole_image(rule), args.repeats)
    print(f"label + measure the whole float map (no box): {whole_s:.2f} s")
    loose = LesionFilter()
    loose_s, (loose_labels, loose_lesions) = median_seconds(
        lambda: lesions_from_percent(percent, case.image, threshold, loose, context), args.repeats)
    loose_whole_s, (loose_whole, _) = median_seconds(lambda: whole_image(loose), args.repeats)
    loose_same = bool(np.array_equal(sitk.GetArrayViewFromImage(loose_labels), sitk.GetArrayViewFromImage(loose_whole)))
    print(f"no lesion filter ({len(loose_lesions)} findings): update {loose_s:.2f} s, whole float map "
          f"{loose_whole_s:.2f} s; same lesions: {loose_same}")
    print(f"ratio update / predict: {update_s / predict_s:.4f} ({predict_s / update_s:.0f}x faster); "
          f"box / whole map: {update_s / whole_s:.2f} (card), {loose_s / loose_whole_s:.2f} (no filter)")
    out = {
        "image_size": list(case.image.GetSize()), "threads": args.threads,
        "predict_seconds": round(predict_s, 2), "update_from_percent_map_seconds": round(update_s, 3),
        "whole_float_map_seconds": round(whole_s, 3), "update_to_predict_ratio": round(update_s / predict_s, 5),
        "box_to_whole_ratio": round(update_s / whole_s, 3), "same_lesions_as_predict": same,
        "lesions": len(lesions), "percent_map_bytes": int(np.prod(percent.GetSize())),
        "no_filter": {"findings": len(loose_lesions), "update_seconds": round(loose_s, 3),
                      "whole_float_map_seconds": round(loose_whole_s, 3), "same_lesions": loose_same},
    }
    dest = ROOT / "benchmarks" / "results" / "relabel_timing.json"
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written {dest.relative_to(ROOT)}")
    return 0 if same and loose_same else 1


if __name__ == "__main__":
    sys.exit(main())
