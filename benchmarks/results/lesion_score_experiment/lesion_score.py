"""Would a learned lesion score find more tumours at the same false-finding rate than the
peak probability with the card's limits? (Session 17 feasibility check; not shipped.)

LUNA16-style detectors add a false-positive-reduction stage that scores each candidate
(Setio et al., MedIA 42, 2017). The cheapest version here: a class-balanced, L2-regularised
logistic regression on measures the pipeline already has for every component of the
probability map at the card's threshold — log volume, peak and mean probability, share of
voxels at p >= 0.5, log elongation, mean / spread / maximum HU, zone, log slice spacing.
Scored candidates are compared with the card's own score (peak probability) by the exact
FROC for tumours >= 10 mm:

* on the 40 calibration phantoms with 5-fold cross-validation **by phantom** (out-of-fold
  scores, so no candidate is scored by a model that saw its phantom);
* on the 16 held-out phantoms with one model fitted on all 40 calibration phantoms.

    python lesion_score.py --calibration CAL --calibration-cache CACHE \
        --heldout HELD --heldout-cache CACHE2 [--model PKG] > output.txt

Probability maps come from the calibration caches (``scripts/calibrate_threshold.py
--cache``); synthetic phantoms, not clinical accuracy.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.evaluation.calibration import (LARGE_LESION_MM, component_centroids,  # noqa: E402
                                                 component_means, component_measures, zone_of_centroids)
from lungtumorseg.evaluation.froc import CPM_FP_RATES  # noqa: E402
from lungtumorseg.evaluation.lesions import equivalent_diameter_mm, label_components  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

FEATURES = ("log10 volume", "peak p", "logit peak p", "mean p", "share p>=0.5", "log elongation", "mean HU/100",
            "HU spread/100", "max HU/100", "upper zone", "middle zone", "log slice spacing")


@dataclass
class Candidates:
    """Every component of one phantom set at the threshold, with its features and truth."""

    features: np.ndarray  # (n, len(FEATURES))
    case: np.ndarray  # (n,) phantom index
    volume: np.ndarray
    peak: np.ndarray
    elongation: np.ndarray
    mean_hu: np.ndarray
    zone: np.ndarray  # zone names (object)
    touched: list[set[tuple[int, int]]]  # (phantom, truth tumour) pairs each candidate touches
    large_truth: set[tuple[int, int]]  # truth tumours >= 10 mm
    n_cases: int


def extract(folder: Path, cache: Path, package, threshold: float) -> Candidates:
    key = cache_key(package, list(package.card.mirror_axes))
    rows, touched, large_truth = [], [], set()
    cases = discover_cases(folder)
    for ci, case in enumerate(cases):
        image = read_image(case.image)
        hu = sitk.GetArrayFromImage(image).astype(np.float32)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        prob, lung_z = cached_probability(case, package, 2, cache, key)
        voxel_mm3 = float(np.prod(image.GetSpacing()))
        t_lab, n_t = label_components(truth)
        sizes = np.bincount(t_lab.ravel(), minlength=n_t + 1)[1:]
        large_truth |= {(ci, t) for t in range(n_t) if equivalent_diameter_mm(sizes[t] * voxel_mm3) >= LARGE_LESION_MM}
        p_lab, n_p = label_components(prob >= threshold)
        if n_p == 0:
            continue
        volume, peak, elongation = component_measures(p_lab, n_p, prob, image.GetSpacing())
        mean_hu = component_means(p_lab, n_p, hu)
        spread_hu = np.sqrt(np.maximum(component_means(p_lab, n_p, hu * hu) - mean_hu ** 2, 0.0))
        max_hu = np.asarray(ndi.maximum(hu, p_lab, np.arange(1, n_p + 1)))
        mean_p = component_means(p_lab, n_p, prob)
        share = component_means(p_lab, n_p, (prob >= 0.5).astype(np.float32))
        zone = zone_of_centroids(image, lung_z)(component_centroids(p_lab, n_p))
        inter = np.zeros((n_t + 1, n_p + 1), dtype=np.int64)
        both = truth & (p_lab > 0)
        np.add.at(inter, (t_lab[both], p_lab[both]), 1)
        clipped = np.clip(peak, 1e-4, 1 - 1e-4)
        for k in range(n_p):
            rows.append((ci, volume[k], peak[k], elongation[k], mean_hu[k], zone[k],
                         [math.log10(volume[k]), peak[k], math.log(clipped[k] / (1 - clipped[k])), mean_p[k], share[k],
                          math.log(elongation[k]), mean_hu[k] / 100, spread_hu[k] / 100, min(max_hu[k], 1000.0) / 100,
                          float(zone[k] == "upper"), float(zone[k] == "middle"), math.log(image.GetSpacing()[2])]))
            touched.append({(ci, int(t)) for t in np.nonzero(inter[1:, k + 1])[0]})
        print(f"  {case.name}: {n_p} candidates, {n_t} tumours", file=sys.stderr, flush=True)
    column = lambda i: np.asarray([r[i] for r in rows])  # noqa: E731
    return Candidates(np.asarray([r[6] for r in rows], dtype=np.float64), column(0).astype(int), column(1), column(2),
                      column(3), column(4), np.asarray([r[5] for r in rows], dtype=object), touched, large_truth,
                      len(cases))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float):
    """Class-balanced L2 logistic regression on standardised features (LBFGS); returns a
    scoring function and the weights."""
    mean, scale = x.mean(0), x.std(0) + 1e-9
    xt, yt = torch.tensor((x - mean) / scale), torch.tensor(y, dtype=torch.float64)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    balance = torch.where(yt > 0, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (balance * torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt, reduction="none")).mean()
        loss = loss + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return lambda xn: (torch.tensor((xn - mean) / scale) @ w + b).detach().numpy(), w.detach().numpy()


def froc_points(c: Candidates, score: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """(false positives per case, sensitivity for tumours >= 10 mm) as the score threshold
    falls past each kept candidate (exact sweep)."""
    found, fp, points = set(), 0, [(0.0, 0.0)]
    for i in sorted(np.nonzero(keep)[0], key=lambda i: -score[i]):
        if c.touched[i]:
            found |= c.touched[i] & c.large_truth
        else:
            fp += 1
        points.append((fp / c.n_cases, len(found) / len(c.large_truth)))
    return np.asarray(points)


def sensitivity_at(points: np.ndarray, rate: float) -> float:
    return float(points[points[:, 0] <= rate + 1e-12, 1].max())


def report(label: str, points: np.ndarray) -> None:
    at = [sensitivity_at(points, r) for r in CPM_FP_RATES]
    print(f"{label:58s} CPM {np.mean(at):.3f} | " + " ".join(f"{v:.2f}" for v in at)
          + f" | at 0.3 FP/case {sensitivity_at(points, 0.3):.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calibration", type=Path, required=True)
    parser.add_argument("--calibration-cache", type=Path, required=True)
    parser.add_argument("--heldout", type=Path, required=True)
    parser.add_argument("--heldout-cache", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=default_package_dir())
    parser.add_argument("--min-volume", type=float, default=30.0, help="candidates below this (mm3) are never scored")
    args = parser.parse_args()
    package = load_package(args.model)
    threshold = float(package.card.raw["postprocessing"]["threshold"])
    card = replace(package.card.lesion_filter, min_peak_probability=0.0, outline_growth=None)
    cal = extract(args.calibration, args.calibration_cache, package, threshold)
    held = extract(args.heldout, args.heldout_cache, package, threshold)

    def sets(c: Candidates) -> dict[str, np.ndarray]:
        dense_enough = c.mean_hu <= card.max_mean_hu
        return {"size >= %g mm3" % args.min_volume: (c.volume >= args.min_volume) & dense_enough,
                "card limits except peak": np.asarray(card.keeps(c.volume, c.peak, c.elongation, c.mean_hu, c.zone),
                                                      dtype=bool)}

    labels = np.array([1.0 if t else 0.0 for t in cal.touched])
    print(f"{package.card.name} {package.card.version}, candidates at p >= {threshold:g}; sensitivity for tumours "
          f">= 10 mm at {', '.join(f'{r:g}' for r in CPM_FP_RATES)} FP/case")
    print(f"calibration: {cal.n_cases} phantoms, {len(labels)} candidates ({int(labels.sum())} touch a tumour), "
          f"{len(cal.large_truth)} tumours >= 10 mm; held out: {held.n_cases} phantoms, {len(held.touched)} "
          f"candidates, {len(held.large_truth)} tumours >= 10 mm")
    folds = np.random.default_rng(0).permutation(cal.n_cases) % 5
    cal_sets, held_sets = sets(cal), sets(held)
    trainable = cal_sets["size >= %g mm3" % args.min_volume]
    for l2 in (1e-3, 1e-2, 1e-1):
        out_of_fold = np.zeros(len(labels))
        for k in range(5):
            score, _ = fit_logistic(cal.features[trainable & (folds[cal.case] != k)],
                                    labels[trainable & (folds[cal.case] != k)], l2)
            out_of_fold[folds[cal.case] == k] = score(cal.features[folds[cal.case] == k])
        for name, keep in cal_sets.items():
            report(f"calibration, 5-fold, score (L2 {l2:g}), {name}", froc_points(cal, out_of_fold, keep))
    for name, keep in cal_sets.items():
        report(f"calibration, peak probability, {name}", froc_points(cal, cal.peak, keep))
    score, weights = fit_logistic(cal.features[trainable], labels[trainable], 1e-2)
    print("weights (standardised features, L2 0.01): "
          + ", ".join(f"{n} {w:+.2f}" for n, w in zip(FEATURES, weights)))
    for name, keep in held_sets.items():
        report(f"held out, score fitted on calibration, {name}", froc_points(held, score(held.features), keep))
        report(f"held out, peak probability, {name}", froc_points(held, held.peak, keep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
