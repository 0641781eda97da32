"""How many tumours >= 10 mm draw any response (a candidate with peak >= 0.5 at the grid's
lowest threshold), and how much of each tumour the responses cover, for each model on the 40
calibration phantoms of seeds 200-239. Reads the candidates stored by the gate's runs
(commands.sh); seconds. Synthetic phantoms, not clinical accuracy.

    python benchmarks/results/tversky_experiment/responses.py W [NAME PACKAGE MAP_CACHE CANDIDATES ...]

Without models after W: 0.8.1 (the demo package up to commit 0aa7c5a; from 0.9.0 on pass its
copy, e.g. ``git archive 0aa7c5a LungTumorSeg/Resources/Models``) and the session-22 arm.
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from calibration_procedures import candidates_of  # noqa: E402
from lungtumorseg.evaluation.calibration_data import calibration_phantoms, case_caches  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.outline import OutlineGrowth  # noqa: E402

W = Path(sys.argv[1])
folder = W / "s21/calibration2"
if len(sys.argv) > 2:
    rest = sys.argv[2:]
    if len(rest) % 4:
        sys.exit("give models as NAME PACKAGE MAP_CACHE CANDIDATES, four words each")
    models = {rest[i]: tuple(Path(v) for v in rest[i + 1:i + 4]) for i in range(0, len(rest), 4)}
else:
    models = {"0.8.1": (default_package_dir(), W / "s21/cal2cache", W / "s22/candidates"),
              "Tversky arm": (W / "s22/model-tversky", W / "s22/cal2cache-tversky", W / "s22/candidates-tversky")}
print("synthetic phantoms, not clinical accuracy; 40 calibration phantoms (seeds 200-239)")
for name, (pkg_dir, cache, store) in models.items():
    package = load_package(pkg_dir)
    cases, _ = calibration_phantoms(W / "s19/data", [folder])
    cands = candidates_of(cases, case_caches(cases, [folder], [cache]), package, cache_key(package, []), store,
                          OutlineGrowth(-650.0, 100.0, 2.0))
    responded, large, covered = 0, 0, []
    for c in cands:
        lowest = c.at_threshold[0]
        for i in np.flatnonzero(c.large):
            large += 1
            touching = np.flatnonzero(lowest.touches[i])
            if touching.size and lowest.peak[touching].max() >= 0.5:
                responded += 1
    for t in (0.15, 0.35, 0.5):
        at = [c.at_threshold[c.index_of(t)] for c in cands]
        inside = sum(int(a.overlap_voxels.sum()) for a in at)
        truth = sum(c.truth_voxels for c in cands)
        called = sum(float(a.volume_mm3.sum()) / c.voxel_mm3 for a, c in zip(at, cands))
        covered.append(f"p>={t:.2f}: {inside / truth:.2f} of tumour voxels covered, "
                       f"{(called - inside) / max(called, 1):.2f} of called voxels outside tumours")
    print(f"{name}: tumours >= 10 mm with a response of peak >= 0.5: {responded} of {large}")
    for line in covered:
        print("   " + line)
