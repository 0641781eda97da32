"""0.8.1's card point against the point the same procedure (no-zone-limits) chooses when the
outcomes are scored on grown outlines, both scored on grown outlines (session 22). Reads the
candidates the experiment stored (commands.sh), so it runs in seconds.

    python benchmarks/results/grown_size_cv/compare_points.py W

0.8.1 is read as the default demo package, which it was up to commit 0aa7c5a: to re-run,
check that commit out (``git worktree add /tmp/lts-0.8.1 0aa7c5a``).
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from calibration_procedures import candidates_of  # noqa: E402
from lungtumorseg.evaluation.calibration_data import calibration_phantoms, case_caches  # noqa: E402
from lungtumorseg.evaluation.cross_validation import pooled_measures  # noqa: E402
from lungtumorseg.evaluation.candidates import curve_from_candidates  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.outline import OutlineGrowth  # noqa: E402
from lungtumorseg.postprocess import LesionFilter  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

W = Path(sys.argv[1])
growth = OutlineGrowth(-650.0, 100.0, 2.0)
package = load_package(default_package_dir())
key = cache_key(package, [])
folders = [W / "s19/calibration", W / "s21/calibration2"]
cases, _ = calibration_phantoms(W / "s19/data", folders)
calibration = candidates_of(cases, case_caches(cases, folders, [W / "s20/calcache", W / "s21/cal2cache"]),
                            package, key, W / "s22/candidates", growth)
held_cases = discover_cases(ROOT / "benchmarks/.cache/heldout-small-10000-48")
heldout = candidates_of(held_cases, [W / "s22/held48cache"] * len(held_cases), package, key, W / "s22/candidates",
                        growth)
report = json.loads((Path(__file__).parent / "procedures.json").read_text())
chosen = report["procedures"]["no-zone-limits"]["on_all_calibration_cases"]
post = package.card.raw["postprocessing"]
points = {"0.8.1 card point": (post["threshold"], LesionFilter.from_dict(post)),
          "chosen on grown outlines": (chosen["threshold"], LesionFilter.from_dict(chosen))}
print("scored on grown outlines (-650...100 HU, 2 mm); synthetic phantoms, not clinical accuracy")
for name, (threshold, rule) in points.items():
    print(f"{name}: t={threshold} {rule.to_dict()}")
    for group, cands in (("80 calibration", calibration), ("48 held out", heldout)):
        m = pooled_measures([curve_from_candidates(c, [rule], [threshold]) for c in cands])
        found = sum(int(curve_from_candidates(c, [rule], [threshold]).detected[0, 0]) for c in cands)
        print(f"  {group:15s} Dice {m['mean_dice']:.3f}  sens>=10mm {m['sensitivity_large']:.3f}  "
              f"FP/case {m['false_positives_per_case']:.2f}  clean {m['clean_fraction']:.2f}  "
              f"lesion F1 {m['lesion_f1']:.3f}  tumours found {found} of {sum(c.n_truth for c in cands)}")
