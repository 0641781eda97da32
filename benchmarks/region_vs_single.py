"""The region-wise claim, tested: three zone UNETRs vs one UNETR for the whole thorax.

Same training data, same network, same compute: each zone model trains S steps (3·S in
all), the single model trains 3·S steps, same batch size, schedule and seed. With
``--init-from`` both arms start from the same weights (e.g. the shared whole-thorax model
the demo recipe pre-trains), so the comparison is "spend the remaining budget on three
zone specialists" vs "keep training one model". Both are evaluated on the same held-out phantoms; the paired difference of Dice (zones − single)
is reported overall and per zone (case-zones whose truth holds tumour) with a 95%
bootstrap confidence interval over cases. Writes
``benchmarks/results/region_vs_single/comparison.json`` and prints a Markdown table for
the README. Phantom numbers are not clinical accuracy.

Example (about 3 × 2 × S × 3 s of CPU for the training)::

    python benchmarks/region_vs_single.py --train-data /data/phantoms --steps 600
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.evaluation.report import EvaluateOptions, evaluate_dataset  # noqa: E402
from lungtumorseg.evaluation.stats import bootstrap_ci  # noqa: E402
from lungtumorseg.phantoms import PhantomConfig, write_msd_dataset  # noqa: E402


def _train(data: Path, out: Path, extra: list[str], steps: int, args: argparse.Namespace) -> None:
    if (out / "model.json").is_file():
        print(f"reusing {out}")
        return
    cmd = [sys.executable, "-m", "lungtumorseg.cli", "train", str(data), "-o", str(out), "--steps", str(steps),
           "--seed", str(args.seed), "--split-seed", str(args.split_seed), "--threads", str(args.threads), "--val-every", str(max(steps // 2, 1)),
           "--roi", str(args.roi), "--lr", str(args.lr), *extra]
    if args.lung_channel:
        cmd.append("--lung-channel")
    if args.hard_negatives:
        cmd += ["--hard-negatives", args.hard_negatives]
    if args.init_from:
        cmd += ["--init-from", str(args.init_from)]
    for flag, value in (("--positive-ratio", args.positive_ratio), ("--lung-ratio", args.lung_ratio),
                        ("--mine-negatives", args.mine_negatives)):
        if value is not None:
            cmd += [flag, str(value)]
    print("running:", " ".join(cmd), flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "LungTumorSeg")}
    subprocess.run(cmd, check=True, env=env)


def _card(package: Path) -> dict:
    return json.loads((package / "model.json").read_text())


def _threshold(package: Path) -> float:
    return float(_card(package)["postprocessing"]["threshold"])


def _calibrate(package: Path, data: Path, args: argparse.Namespace) -> None:
    """Operating point chosen as the demo recipe does for the zone package (on the validation
    split, or on ``--calibration-data`` phantoms with the lesion-filter grid), so that the
    arms differ only in how the compute was spent."""
    if "threshold_calibration" in _card(package).get("metrics", {}):
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT / "LungTumorSeg")}
    cmd = [sys.executable, str(ROOT / "scripts" / "calibrate_threshold.py"), "--model", str(package),
           "--data", str(data), "--threads", str(args.threads)]
    for folder in args.calibration_data or []:
        cmd += ["--calibration-data", str(folder)]
    if args.calibration_cache:
        cmd += ["--cache", str(args.calibration_cache)]
    subprocess.run(cmd, check=True, env=env)


def _detection(outdir: Path) -> dict[str, float]:
    """Lesion-level numbers of one arm's evaluation: false positives per case and the
    sensitivity for truth lesions of 10 mm or more."""
    with open(outdir / "metrics_cases.csv") as fh:
        cases = list(csv.DictReader(fh))
    with open(outdir / "lesions.csv") as fh:
        large = [r for r in csv.DictReader(fh) if r["kind"] == "truth" and r["size_bin"] != "<10mm"]
    return {"false_positives_per_case": float(np.mean([float(r["n_false_positive"]) for r in cases])),
            "sensitivity_lesions_ge_10mm": float(np.mean([r["matched"] == "True" for r in large])) if large else float("nan"),
            "n_lesions_ge_10mm": len(large)}


def _dice_by_case(outdir: Path) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    with open(outdir / "metrics_cases.csv") as fh:
        overall = {r["case"]: float(r["dice"]) for r in csv.DictReader(fh) if float(r["truth_volume_ml"]) > 0}
    zones: dict[str, dict[str, float]] = {}
    with open(outdir / "metrics_zones.csv") as fh:
        for r in csv.DictReader(fh):
            if float(r["truth_volume_ml"]) > 0:
                zones.setdefault(r["zone"], {})[r["case"]] = float(r["dice"])
    return overall, zones


def _paired(a: dict[str, float], b: dict[str, float], seed: int) -> dict[str, float]:
    cases = sorted(set(a) & set(b))
    diff = np.array([a[c] - b[c] for c in cases])
    lo, hi = bootstrap_ci(diff, n=2000, seed=seed) if len(diff) > 1 else (float("nan"), float("nan"))
    return {"n_cases": len(cases), "mean_zones": float(np.mean([a[c] for c in cases])) if cases else float("nan"),
            "mean_single": float(np.mean([b[c] for c in cases])) if cases else float("nan"),
            "mean_difference": float(diff.mean()) if len(diff) else float("nan"), "ci95_low": lo, "ci95_high": hi}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-data", type=Path, required=True, help="MSD-layout training data")
    parser.add_argument("--steps", type=int, default=600, help="steps per zone model (single model: 3x)")
    parser.add_argument("--roi", type=int, default=64)
    parser.add_argument("--heldout", type=int, default=24)
    parser.add_argument("--heldout-seed", type=int, default=30000)
    parser.add_argument("--zones-eval", type=Path, default=None,
                        help="an existing `evaluate` output of --zones-model on the same held-out data "
                             "(e.g. benchmarks/results/heldout) instead of evaluating it again")
    parser.add_argument("--heldout-data", type=Path, default=None,
                        help="an existing held-out MSD folder (e.g. the held-out benchmark's) instead of generating one")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--split-seed", type=int, default=None,
                        help="train/validation split of both arms (default: the --zones-model's split, else 0)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--lung-channel", action="store_true", help="both arms see the lung prior channel")
    parser.add_argument("--hard-negatives", choices=["lung", "dense"], default=None)
    parser.add_argument("--init-from", type=Path, default=None, help="package both arms start from")
    parser.add_argument("--positive-ratio", type=float, default=None, help="passed to train (both arms)")
    parser.add_argument("--lung-ratio", type=float, default=None, help="passed to train (both arms)")
    parser.add_argument("--mine-negatives", type=float, default=None, help="passed to train (both arms)")
    parser.add_argument("--zones-model", type=Path, default=None,
                        help="an already trained zone package for arm (a) (e.g. the demo package), instead of training one")
    parser.add_argument("--calibration-data", type=Path, action="append",
                        help="calibrate the operating point of the trained arm(s) on these phantom folders "
                             "(as the demo recipe does) instead of the validation split")
    parser.add_argument("--calibration-cache", type=Path, default=None, help="probability-map cache of the calibration")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "region_vs_single")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    zones_pkg, single_pkg = args.zones_model or args.out / "model_zones", args.out / "model_single"
    if args.split_seed is None:  # both arms must validate (and calibrate) on the same cases
        config = _card(args.zones_model)["training"]["config"] if args.zones_model else {}
        args.split_seed = int(config.get("split_seed", config.get("seed", 0)))
    if args.zones_model is None:
        _train(args.train_data, zones_pkg, [], args.steps, args)
    _train(args.train_data, single_pkg, ["--single-model"], 3 * args.steps, args)
    # A zone package evaluated elsewhere (--zones-eval) keeps the threshold it was evaluated with.
    for package in ([zones_pkg] if args.zones_eval is None else []) + [single_pkg]:
        _calibrate(package, args.train_data, args)
    heldout = args.heldout_data or args.out / "heldout"
    if not (heldout / "dataset.json").is_file():
        write_msd_dataset(heldout, args.heldout, args.heldout_seed, PhantomConfig(size="small"))
    opts = EvaluateOptions(threads=args.threads, synthetic=True, plots=False)
    zones_eval = args.zones_eval or args.out / "eval_zones"
    if args.zones_eval is None:
        evaluate_dataset(heldout, zones_pkg, zones_eval, opts)
    evaluate_dataset(heldout, single_pkg, args.out / "eval_single", opts)
    z_overall, z_zones = _dice_by_case(zones_eval)
    s_overall, s_zones = _dice_by_case(args.out / "eval_single")
    result = {"overall": _paired(z_overall, s_overall, args.seed),
              "detection": {"zones": _detection(zones_eval), "single": _detection(args.out / "eval_single")}}
    for zone in ("upper", "middle", "lower"):
        result[zone] = _paired(z_zones.get(zone, {}), s_zones.get(zone, {}), args.seed)
    result["setup"] = {"steps_per_zone_model": args.steps, "steps_single_model": 3 * args.steps, "roi": args.roi,
                       "lr": args.lr, "lung_channel": args.lung_channel, "hard_negatives": args.hard_negatives,
                       "positive_ratio": args.positive_ratio, "lung_ratio": args.lung_ratio,
                       "mine_negatives": args.mine_negatives,
                       "init_from": str(args.init_from) if args.init_from else None,
                       "zones_model": str(zones_pkg), "zones_evaluation": str(zones_eval),
                       "thresholds": {arm: _threshold(pkg) for arm, pkg in (("zones", zones_pkg), ("single", single_pkg))},
                       "postprocessing": {arm: _card(pkg)["postprocessing"] for arm, pkg in (("zones", zones_pkg), ("single", single_pkg))},
                       "calibration_data": [str(p) for p in args.calibration_data or []],
                       "train_data": str(args.train_data), "heldout_data": str(heldout),
                       "heldout_seeds": json.loads((heldout / "dataset.json").read_text()).get("seeds"),
                       "note": "synthetic phantoms; Dice over cases (or case-zones) whose truth holds tumour"}
    (args.out / "comparison.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n| region | cases | Dice, 3 zone models | Dice, single model | difference (95% CI) |")
    print("|---|---|---|---|---|")
    for key in ("overall", "upper", "middle", "lower"):
        r = result[key]
        print(f"| {key} | {r['n_cases']} | {r['mean_zones']:.3f} | {r['mean_single']:.3f} | "
              f"{r['mean_difference']:+.3f} ({r['ci95_low']:+.3f} to {r['ci95_high']:+.3f}) |")
    for arm, d in result["detection"].items():
        print(f"{arm}: {d['false_positives_per_case']:.2f} false positives per case, sensitivity (lesions >= 10 mm) "
              f"{d['sensitivity_lesions_ge_10mm']:.2f} of {d['n_lesions_ge_10mm']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
