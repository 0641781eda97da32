"""The decision of PLAN.md: arm B's package against demo 0.10.0 on the 48 fresh held-out
phantoms (seeds 10200-10247), the real post-processing of each package on the same cached
maps (kept by 0.10.0's full benchmark run on them), the benchmark's case metrics.

Usage: decide.py PACKAGE_B DATA CACHE OUT_JSON
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from from_maps import Arm, evaluate_arms, summarise  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402


def arm(name: str, package) -> Arm:
    check = package.candidate_check()
    return Arm(name, float(package.card["postprocessing"]["threshold"]), package.card.lesion_filter,
               lambda case: check)


def main() -> None:
    package_b, data, cache, out = (Path(a) for a in sys.argv[1:5])
    a, b = load_package(default_package_dir()), load_package(package_b)
    key = cache_key(a, list(a.card.mirror_axes))
    assert key == cache_key(b, list(b.card.mirror_axes)), "the arms must share the zone networks (same maps)"
    arms = [arm("A", a), arm("B", b)]
    evals = evaluate_arms(discover_cases(data), a, key, cache, arms)
    ra, rb = summarise(evals["A"]), summarise(evals["B"])
    result = {"data": str(data), "A": f"{a.card.name} {a.card.version}", "B": f"{b.card.name} {b.card.version}",
              "a": ra, "b": rb,
              "ships": bool(rb["found_ge10"] > ra["found_ge10"] and rb["fp_per_case"] <= 0.3
                            and rb["fp_per_case"] <= ra["fp_per_case"] + 0.05 and rb["clean"] >= ra["clean"]
                            and rb["mean_dice_tumour_cases"] >= ra["mean_dice_tumour_cases"] - 0.005),
              "note": "synthetic phantoms: tests the software and the demo weights, not clinical accuracy"}
    text = json.dumps(result, indent=1)
    out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
