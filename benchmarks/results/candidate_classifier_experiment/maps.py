"""Compute and cache 0.9.0 probability maps of every case of an MSD folder (mining set)."""
import sys, time
from pathlib import Path
sys.path.insert(0, "LungTumorSeg")
from lungtumorseg.models.package import load_package, default_package_dir
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability
from lungtumorseg.training.dataset import discover_cases
data, cache = Path(sys.argv[1]), Path(sys.argv[2])
pkg = load_package(default_package_dir())
key = cache_key(pkg, list(pkg.card.mirror_axes))
print("key", key, flush=True)
for case in discover_cases(data):
    t = time.time()
    cached_probability(case, pkg, int(sys.argv[3]) if len(sys.argv) > 3 else 2, cache, key)
    print(case.name, f"{time.time()-t:.1f} s", flush=True)
