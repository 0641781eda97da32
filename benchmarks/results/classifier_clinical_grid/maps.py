"""Cache the shipped networks' normal probability map of every case of an MSD folder.

The candidate classifier judges the components of the normal map, so the magnified second
look (about 3.4 times the network time on a full-size phantom) is skipped here. Maps are kept
as ``lungtumorseg.evaluation.probability_cache`` keeps them, under the package's key plus
``-nolook`` so they are never mistaken for maps of a whole run.

Usage: maps.py DATA CACHE [THREADS] [PACKAGE]  (PACKAGE: the shipped demo package by default)
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

import SimpleITK as sitk  # noqa: E402

from lungtumorseg.evaluation.probability_cache import cache_key, store_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.pipeline import SegmentOptions, segment  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402


def map_key(package) -> str:
    """The cache key of the normal map (no magnified look)."""
    return cache_key(package, list(package.card.mirror_axes)) + "-nolook"


def main() -> None:
    data, cache = Path(sys.argv[1]), Path(sys.argv[2])
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    package = load_package(Path(sys.argv[4]) if len(sys.argv) > 4 else default_package_dir())
    key = map_key(package)
    print("key", key, flush=True)
    options = SegmentOptions(threads=threads, magnified_look=False, candidate_check=False, outline_growth=False)
    for case in discover_cases(data):
        if (cache / f"{case.name}-{key}.json").is_file():
            continue
        start = time.time()
        result = segment(read_image(case.image), package, options)
        store_probability(cache, case.name, key, sitk.GetArrayFromImage(result.probability), result.lung_z_lps_mm)
        print(case.name, f"{time.time() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
