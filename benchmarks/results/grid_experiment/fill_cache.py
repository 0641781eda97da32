"""Fill a probability-map cache for some cases (parallel 1-thread processes beat one 2-thread one).
usage: python fill_cache.py PACKAGE DATA CACHE K N [PRECISION]   (cases i with i % N == K; fp32 or bf16)"""
import sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "LungTumorSeg"))
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability
from lungtumorseg.models.package import load_package
from lungtumorseg.training.dataset import discover_cases
package = load_package(sys.argv[1]); data, cache = Path(sys.argv[2]), Path(sys.argv[3]); k, n = int(sys.argv[4]), int(sys.argv[5])
precision = sys.argv[6] if len(sys.argv) > 6 else "fp32"
key = cache_key(package, list(package.card.mirror_axes), precision)
for i, case in enumerate(discover_cases(data)):
    if i % n == k:
        t = time.perf_counter(); cached_probability(case, package, 1, cache, key, precision)
        print(case.name, f"{time.perf_counter() - t:.0f} s", flush=True)
