"""How long ``predict`` takes on a clinical-size chest CT (512×512×300), stage by stage.

Baseline in the same run: the same UNETR slid over the whole canonical volume (what a
pipeline without lung-based zone cropping would evaluate). The ratio shows what the zone
crops cost or save. Also in the same run: the pipeline with bfloat16 forward passes
(``--precision bf16``) against the float32 one, stage by stage, and, for a card with a
magnified second look (``magnified_look``), the pipeline without it (``--no-magnified-look``):
the ratio is what the look costs.
Run: ``make benchmark`` or ``python benchmarks/predict_timing.py``.
Writes ``benchmarks/results/predict_timing.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import SimpleITK as sitk
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.inference import count_windows, predict_zone  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from clinical_case import add_timing_arguments, clinical_phantom  # noqa: E402
from lungtumorseg.pipeline import SegmentOptions, segment  # noqa: E402
from lungtumorseg.lungs import find_lungs  # noqa: E402
from lungtumorseg.preprocess import IntensityWindow, network_input, to_canonical  # noqa: E402
from lungtumorseg.progress import ProgressSpan  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_timing_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    package = load_package(args.model)
    t0 = time.perf_counter()
    case = clinical_phantom(args.seed)
    t_phantom = time.perf_counter() - t0
    print(f"phantom {case.image.GetSize()} at {case.image.GetSpacing()} mm made in {t_phantom:.1f} s")

    t0 = time.perf_counter()
    result = segment(case.image, package, SegmentOptions(threads=args.threads))
    total = time.perf_counter() - t0
    print(f"pipeline total {total:.1f} s; stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings_s.items()))

    look = None
    if package.card.magnified_look is not None:
        t0 = time.perf_counter()
        plain = segment(case.image, package, SegmentOptions(threads=args.threads, magnified_look=False))
        total_plain = time.perf_counter() - t0
        look = {"pipeline_seconds_without_look": round(total_plain, 2), "stages_seconds_without_look": plain.timings_s,
                "with_to_without_ratio": round(total / total_plain, 3), "lesions_found_without_look": len(plain.lesions),
                "zoom": package.card.magnified_look.zoom}
        print(f"without the magnified look: {total_plain:.1f} s vs {total:.1f} s with it: ratio "
              f"{look['with_to_without_ratio']:.2f}; lesions {len(plain.lesions)} vs {len(result.lesions)}")

    t0 = time.perf_counter()
    fast = segment(case.image, package, SegmentOptions(threads=args.threads, precision="bf16"))
    total_bf16 = time.perf_counter() - t0
    bf16_ratio = fast.timings_s["inference"] / result.timings_s["inference"]
    print(f"bf16 pipeline total {total_bf16:.1f} s; inference {fast.timings_s['inference']:.1f} s vs float32 "
          f"{result.timings_s['inference']:.1f} s: ratio {bf16_ratio:.2f}; lesions {len(fast.lesions)} vs "
          f"{len(result.lesions)}")

    # Baseline: one zone model over the whole canonical volume (no zone crops).
    canonical = sitk.GetArrayFromImage(to_canonical(case.image, package.card.spacing_mm))
    lungs = find_lungs(canonical, package.card.spacing_mm)
    image = network_input(canonical, lungs.mask, IntensityWindow(*package.card.window_hu), package.card.lung_channel,
                          package.card.blob_filter, package.card.spacing_mm)
    net = package.load_network(package.card.zones[0])
    overlap = float(package.card.get("inference", {}).get("overlap", 0.25))
    t0 = time.perf_counter()
    predict_zone(net, image, package.card.roi_size, overlap, 2, ProgressSpan(None, 0, 1), "baseline")
    baseline = time.perf_counter() - t0
    zone_inference = result.timings_s.get("inference", float("nan"))
    ratio = zone_inference / baseline
    print(f"inference: three zone crops {zone_inference:.1f} s vs whole-volume sliding window {baseline:.1f} s "
          f"({count_windows(image.shape[-3:], package.card.roi_size, overlap)} windows): ratio {ratio:.2f}")
    out = {
        "image_size": list(case.image.GetSize()),
        "spacing_mm": list(case.image.GetSpacing()),
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "phantom_seconds": round(t_phantom, 2),
        "pipeline_seconds": round(total, 2),
        "stages_seconds": result.timings_s,
        "baseline_whole_volume_inference_seconds": round(baseline, 2),
        "zone_inference_to_baseline_ratio": round(ratio, 3),
        "lesions_found": len(result.lesions),
        "bf16": {"pipeline_seconds": round(total_bf16, 2), "stages_seconds": fast.timings_s,
                 "inference_to_float32_ratio": round(bf16_ratio, 3), "lesions_found": len(fast.lesions)},
        "model": f"{package.card.name} {package.card.version}",
        "magnified_look": look,
    }
    dest = ROOT / "benchmarks" / "results" / "predict_timing.json"
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written {dest.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
