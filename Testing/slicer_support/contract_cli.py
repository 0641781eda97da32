"""A stand-in for ``python -m lungtumorseg.cli predict`` that obeys the CLI contract.

Why: the Slicer layer's transaction (progress, cancel, failure, import) must be tested
with a child whose behaviour the test controls — a slow run to cancel, a failing run —
independently of the real network. Invoked as ``contract_python -m lungtumorseg.cli predict
INPUT -o LABELS --report R --progress lines ...``; the mode comes from ``LTS_CONTRACT_MODE``:

- ``ok``: labels = connected components of voxels >= 500 (by decreasing size), real report;
  with ``--probabilities``: probability = HU mapped linearly from -800 (0) to 1200 (1),
  in whole percent with ``--probability-percent`` (so 500 HU is 65 %);
  with ``--magnified-probabilities``: the magnified look's map, 95 % on the lesions grown by one
  voxel in-plane, 0 elsewhere (in whole percent), written but not joined;
- ``joined``: like ``ok``, but the lesions are those grown components (the magnified look's
  join) and the report says ``magnified_join``;
- ``no_probability``: like ``ok`` but writes no probability map although asked to;
- ``fail``: exit 2 with ``error: ...`` on stderr;
- ``slow``: progress lines, then a grandchild ``sleep``, waits (to be cancelled);
- ``wrong_grid``: exit 0 but labels on a shifted grid.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import SimpleITK as sitk


def build_parser() -> argparse.ArgumentParser:
    """The options of the real ``predict`` that the Slicer logic sends (a test checks that every
    option ``process_runner.predict_command`` can emit is accepted here and by the real CLI)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("-o", dest="output", required=True)
    parser.add_argument("--report")
    parser.add_argument("--progress")
    parser.add_argument("--model")
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--min-lesion-mm3", type=float)
    parser.add_argument("--zone-overlap-mm", type=float)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--min-peak-probability", type=float)
    parser.add_argument("--max-elongation", type=float)
    parser.add_argument("--max-mean-hu", type=float)
    parser.add_argument("--no-zone-limits", action="store_true")
    parser.add_argument("--no-outline-growth", action="store_true")
    parser.add_argument("--no-candidate-check", action="store_true")
    parser.add_argument("--no-magnified-look", action="store_true")
    parser.add_argument("--candidate-cutoff", type=float)
    parser.add_argument("--probabilities")
    parser.add_argument("--probability-percent", action="store_true")
    parser.add_argument("--magnified-probabilities")
    return parser


def main(argv: list[str]) -> int:
    if argv[:3] != ["-m", "lungtumorseg.cli", "predict"]:
        print(f"error: unexpected command {argv[:3]}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv[3:])
    mode = os.environ.get("LTS_CONTRACT_MODE", "ok")
    with open(os.environ.get("LTS_CONTRACT_ARGS", os.devnull), "w") as handle:
        json.dump(argv, handle)
    print("PROGRESS 0.05 reading input", flush=True)
    print("a free-text log line", flush=True)
    if mode == "fail":
        print("error: the input is not a CT image (contract stand-in)", file=sys.stderr, flush=True)
        return 2
    if mode == "slow":
        child = subprocess.Popen(["sleep", "300"])
        with open(os.environ["LTS_CONTRACT_PIDFILE"], "w") as handle:
            handle.write(f"{os.getpid()} {child.pid}")
        for i in range(600):
            print(f"PROGRESS {0.1 + i / 10000:.4f} inference upper zone", flush=True)
            time.sleep(0.5)
        return 0
    image = sitk.ReadImage(args.input)
    grown = sitk.BinaryDilate(image >= 500, [1, 1, 0])  # what the contract's magnified look marks
    cc = sitk.RelabelComponent(sitk.ConnectedComponent(grown if mode == "joined" else image >= 500),
                               sortByObjectSize=True)
    labels = sitk.Cast(cc, sitk.sitkUInt16)
    if mode == "wrong_grid":
        labels.SetOrigin([o + 10.0 for o in labels.GetOrigin()])
    print("PROGRESS 0.50 inference middle zone", flush=True)
    sitk.WriteImage(labels, args.output)
    if args.probabilities and mode != "no_probability":
        hu = sitk.GetArrayFromImage(image).astype(np.float64)
        prob = np.clip((hu + 800.0) / 2000.0, 0.0, 1.0)
        prob_image = sitk.GetImageFromArray(np.floor(prob * 100 + 1e-9).astype(np.uint8) if args.probability_percent
                                            else prob.astype(np.float32))
        prob_image.CopyInformation(image)
        sitk.WriteImage(prob_image, args.probabilities)
    if args.magnified_probabilities:
        magnified = sitk.Cast(grown, sitk.sitkUInt8) * 95
        magnified.CopyInformation(image)
        sitk.WriteImage(magnified, args.magnified_probabilities)
    array = sitk.GetArrayFromImage(labels)
    voxel_mm3 = float(np.prod(image.GetSpacing()))
    lesions = []
    for value in range(1, int(array.max()) + 1):
        idx = np.argwhere(array == value)
        centre = image.TransformContinuousIndexToPhysicalPoint(idx.mean(axis=0)[::-1].tolist())
        hu = sitk.GetArrayFromImage(image)[array == value]
        lesions.append({"label": value, "voxels": int(len(idx)), "volume_mm3": len(idx) * voxel_mm3,
                        "volume_ml": len(idx) * voxel_mm3 / 1000, "centroid_lps_mm": list(centre),
                        "long_axis_mm": 10.0, "short_axis_mm": 5.0, "zone": "middle", "side": "right",
                        "hu_mean": float(hu.mean()), "hu_std": float(hu.std()), "hu_min": float(hu.min()),
                        "hu_max": float(hu.max()), "mean_probability": 0.9})
    report = {"status": "ok", "message": "", "input": args.input,
              "model": {"name": "contract", "version": "0", "demo": True, "warning": "stand-in"},
              "threshold": args.threshold or 0.5, "timings_s": {"total": 0.0}, "lesions": lesions,
              "lung_z_lps_mm": None, "midline_x_lps_mm": None,
              **({"postprocessing": {"threshold": args.threshold or 0.5, "magnified_join": True}}
                 if mode == "joined" else {})}
    if args.report:
        with open(args.report, "w") as handle:
            json.dump(report, handle)
    print("PROGRESS 1.0 done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
