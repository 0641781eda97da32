"""0.8.0's and 0.8.1's operating points on the same probability maps, set by set.

The two packages have the same weights, so one probability map per phantom serves both; each
point is scored from the phantom's lesion candidates (``lungtumorseg.evaluation.candidates``).
Dice is without outline growth. Paths are this experiment's working data (``commands.sh``);
with ``--extended`` also the 32 extra held-out phantoms (seeds 10016-10047) of RESULTS.md.
Synthetic phantoms, not clinical accuracy.

    python benchmarks/results/operating_point_cv/compare_points.py [--extended]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "LungTumorSeg")]

from calibration_procedures import candidates_of  # noqa: E402
from lungtumorseg.evaluation.candidates import curve_from_candidates  # noqa: E402
from lungtumorseg.evaluation.cross_validation import pooled_measures  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key  # noqa: E402
from lungtumorseg.evaluation.targets import targets_met  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

W = Path("/work/train")
PACKAGES = {"0.8.0": W / "s21" / "pkg-0.8.0", "0.8.1": ROOT / "LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom"}
HELDOUT = (ROOT / "benchmarks/.cache/heldout-small-10000-16", W / "s20" / "froccache")
EXTRA = (W / "s21" / "heldout2", W / "s21" / "held2cache")
SETS = {"calibration 160-199 (chose 0.8.0)": [(W / "s19" / "calibration", W / "s20" / "calcache")],
        "calibration 200-239": [(W / "s21" / "calibration2", W / "s21" / "cal2cache")],
        "held out 10000-10015": [HELDOUT]}
if "--extended" in sys.argv:
    SETS.update({"held out 10016-10047": [EXTRA], "held out 10000-10047": [HELDOUT, EXTRA]})


def main() -> None:
    packages = {name: load_package(path) for name, path in PACKAGES.items()}
    key = cache_key(packages["0.8.1"], [])
    for name, folders in SETS.items():
        cands = []
        for folder, cache in folders:
            cases = discover_cases(folder)
            cands += candidates_of(cases, [cache] * len(cases), packages["0.8.1"], key, W / "s21" / "candidates")
        n_truth = sum(c.n_truth for c in cands)
        print(f"{name}: {len(cands)} phantoms, {n_truth} tumours, {sum(c.n_truth == 0 for c in cands)} tumour-free")
        for label, package in packages.items():
            threshold, rule = float(package.card.raw["postprocessing"]["threshold"]), package.card.lesion_filter
            curves = [curve_from_candidates(c, [rule], [threshold]) for c in cands]
            m = pooled_measures(curves)
            found = sum(int(c.detected[0, 0]) for c in curves)
            print(f"  {label}: Dice (no growth) {m['mean_dice']:.3f}  sensitivity >=10 mm {m['sensitivity_large']:.3f}  "
                  f"FP/case {m['false_positives_per_case']:.3f}  clean {m['clean_fraction']:.2f}  "
                  f"lesion F1 {m['lesion_f1']:.3f}  found {found}/{n_truth}  targets met {targets_met(m)}")


if __name__ == "__main__":
    main()
