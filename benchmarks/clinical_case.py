"""What the timing benchmarks share: a clinical-size chest CT phantom, their options and their timer.

512 × 512 × 301 voxels at 0.7 × 0.7 × 1.0 mm (a typical thin-slice chest CT), two tumours,
seeded; and the ``--model / --threads / --seed`` options with the same defaults everywhere.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.models.package import default_package_dir  # noqa: E402
from lungtumorseg.phantoms import PhantomConfig, make_phantom  # noqa: E402

CLINICAL_PHANTOM = PhantomConfig(size="full", matrix=512, spacing=(0.7, 0.7, 1.0), z_extent_mm=300.0,
                                 orientation="axial-lps", n_tumours=2)


def add_timing_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=default_package_dir())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20001)


def clinical_phantom(seed: int):
    """The seeded clinical-size phantom case (image, label, metadata)."""
    return make_phantom(seed, CLINICAL_PHANTOM)


def median_seconds(function, repeats: int) -> tuple[float, object]:
    """The median wall time of ``repeats`` calls of ``function`` and its last value."""
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value
