"""Arm E's maps: per voxel the mean of two packages' cached probability maps (this experiment).

Both maps come from the same core pipeline on the same phantom, so they share the input grid;
the mean is taken in float32 and stored as float16 under the FIRST package's cache key (the
candidates and the gate then read it with that package's card), beside a copy of the first
map's lung extent.

Usage: average_maps.py PACKAGE_A CACHE_A PACKAGE_B CACHE_B OUT_CACHE
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "LungTumorSeg"))

from lungtumorseg.evaluation.probability_cache import cache_key  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402


def key_of(package_dir: Path) -> str:
    package = load_package(package_dir)
    return cache_key(package, list(package.card.mirror_axes))


def main() -> None:
    package_a, cache_a, package_b, cache_b, out = (Path(a) for a in sys.argv[1:6])
    key_a, key_b = key_of(package_a), key_of(package_b)
    assert key_a != key_b, "the two packages have the same networks"
    out.mkdir(parents=True, exist_ok=True)
    for map_a in sorted(cache_a.glob(f"*-{key_a}.npy")):
        case = map_a.name[: -len(f"-{key_a}.npy")]
        map_b = cache_b / f"{case}-{key_b}.npy"
        a, b = np.load(map_a).astype(np.float32), np.load(map_b).astype(np.float32)
        assert a.shape == b.shape, case
        np.save(out / map_a.name, ((a + b) / 2.0).astype(np.float16))
        shutil.copyfile(cache_a / f"{case}-{key_a}.json", out / f"{case}-{key_a}.json")
        print(case, f"A peak {a.max():.3f}  B peak {b.max():.3f}  voxels >= 0.45: A {(a >= 0.45).sum()}  "
              f"B {(b >= 0.45).sum()}  mean {((a + b) / 2 >= 0.45).sum()}", flush=True)


if __name__ == "__main__":
    main()
