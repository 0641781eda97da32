"""Confident false findings by zone (grid stage 3 diagnosis, RESULTS.md): components of the
probability map at p >= 0.10 that touch no tumour, with peak probability >= 0.99 / >= 0.9,
by the zone of their centroid; and how many tumours >= 10 mm have a candidate of peak >= 0.5.

usage: python confident_false_findings.py DATA NAME=PACKAGE:CACHE [NAME=PACKAGE:CACHE ...]
(maps from the caches that froc_phantoms.py / calibrate_threshold.py --cache filled)
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lesion_score_experiment"))
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))
from lesion_score import extract  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402

data = Path(sys.argv[1])
for spec in sys.argv[2:]:
    name, rest = spec.split("=", 1)
    package, cache = rest.rsplit(":", 1)
    c = extract(data, Path(cache), load_package(package), 0.10)
    false = np.array([not t for t in c.touched])
    for level in (0.99, 0.9):
        confident = false & (c.peak >= level)
        print(f"{name}: false candidates with peak >= {level}: {int(confident.sum())} "
              + str({z: int((confident & (c.zone == z)).sum()) for z in ("upper", "middle", "lower")}))
    found = {t for i, ts in enumerate(c.touched) for t in ts if c.peak[i] >= 0.5}
    print(f"{name}: tumours >= 10 mm with a candidate of peak >= 0.5: {len(found & c.large_truth)} of {len(c.large_truth)}")
