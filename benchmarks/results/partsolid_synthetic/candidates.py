"""Candidates and classifier patches of one phantom set for any model package (this experiment).

The same candidates as ``../candidate_classifier_experiment/extract.py`` (components of the
map at the card threshold, >= 30 mm3, 32^3 patches), but for the package given, whose maps
are computed and cached on first use.

Usage: candidates.py PACKAGE DATA CACHE OUT
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))
sys.path.insert(0, str(HERE.parent / "candidate_classifier_experiment"))

from extract import case_candidates  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402


def main() -> None:
    package_dir, data, cache, out = (Path(a) for a in sys.argv[1:5])
    out.mkdir(parents=True, exist_ok=True)
    package = load_package(package_dir)
    key = cache_key(package, list(package.card.mirror_axes))
    print("package", package.card.name, package.card.version, "cache key", key, flush=True)
    for case in discover_cases(data):
        target = out / f"{case.name}.npz"
        if target.exists():
            continue
        start = time.time()
        c = case_candidates(case, package, key, cache)  # computes and caches the map when missing
        np.savez_compressed(target, **c)
        print(case.name, len(c["card_keeps"]), "candidates,", int(c["touched"].any(1).sum()), "true,",
              f"{time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
