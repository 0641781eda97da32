"""Why 0.8.1 misses held-out tumours >= 10 mm: for each one its best candidate (touching it)
at the card's threshold and at the grid's lowest, and the first of the card's limits that
rejects it. From the candidates the experiment stored (commands.sh); seconds.

    python benchmarks/results/grown_size_cv/missed.py W

0.8.1 is read as the default demo package, which it was up to commit 0aa7c5a: to re-run,
check that commit out (``git worktree add /tmp/lts-0.8.1 0aa7c5a``).
"""
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from calibration_procedures import candidates_of  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.outline import OutlineGrowth  # noqa: E402
from lungtumorseg.postprocess import LesionFilter  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

W = Path(sys.argv[1])
package = load_package(default_package_dir())
post = package.card.raw["postprocessing"]
rule, threshold = LesionFilter.from_dict(post), post["threshold"]
cases = discover_cases(ROOT / "benchmarks/.cache/heldout-small-10000-48")
held = candidates_of(cases, [W / "s22/held48cache"] * len(cases), package, cache_key(package, []),
                     W / "s22/candidates", OutlineGrowth(-650.0, 100.0, 2.0))
reasons = Counter()
print("synthetic phantoms, not clinical accuracy; card point t=%.2f %s" % (threshold, rule.to_dict()))
for case, cand in zip(cases, held):
    at = cand.at_threshold[cand.index_of(threshold)]
    keep = np.asarray(rule.keeps(at.volume_mm3, at.peak, at.elongation, at.mean_hu, at.zone), dtype=bool)
    found = at.grown.touches[:, keep].any(axis=1)
    for i in np.flatnonzero(cand.large & ~found):
        touching = np.flatnonzero(at.grown.touches[i])
        lowest = cand.at_threshold[0]
        low_peak = lowest.peak[np.flatnonzero(lowest.touches[i])].max(initial=0.0)
        if touching.size == 0:
            why = f"no candidate at p>={threshold:.2f} (peak inside {low_peak:.2f} at p>={cand.thresholds[0]:.2f})"
            reasons["no candidate at the threshold" if low_peak < threshold else "no candidate (?)"] += 1
        else:
            j = touching[np.argmax(at.volume_mm3[touching])]
            checks = [("volume", at.volume_mm3[j] >= rule.min_lesion_mm3),
                      ("peak", at.peak[j] >= rule.min_peak_probability),
                      ("elongation", at.elongation[j] <= rule.max_elongation),
                      ("density", at.mean_hu[j] <= rule.max_mean_hu)]
            failed = [n for n, ok in checks if not ok]
            reasons["rejected by " + "+".join(failed)] += 1
            why = (f"candidate {at.volume_mm3[j]:.0f} mm3, peak {at.peak[j]:.2f}, elongation {at.elongation[j]:.2f}, "
                   f"{at.mean_hu[j]:.0f} HU: fails {', '.join(failed)}")
        print(f"{case.name} tumour {i + 1}: {why}")
print("\nmissed tumours >= 10 mm by reason:", dict(reasons), "of", sum(int(c.large.sum()) for c in held))
