"""Diagnostic of PLAN.md: how each arm's networks answer the truth tumours under 10 mm.

For every tumour < 10 mm (equivalent diameter) of the calibration phantoms: its kind, its peak
tumour probability at the networks' own scale (the cached maps of ``candidates.py``) and
whether that peak reaches 0.5 (a response) or the card threshold. Gate.py reports the same for
tumours >= 10 mm.

Usage: small_responses.py OUT.json DATA1,DATA2 --arm NAME PACKAGE CACHE1,CACHE2 [--arm ...]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))
sys.path.insert(0, str(HERE.parent / "heldout48"))

from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402
from misses import large_tumours  # noqa: E402

SMALL_MM = 10.0
RESPONSE = 0.5


def small_tumours(package, data: Path, cache: Path) -> list[dict]:
    """One record per truth tumour < 10 mm of ``data``, with the package's peak probability in it."""
    key = cache_key(package, list(package.card.mirror_axes))
    rows = []
    for case in discover_cases(data):
        ct = read_image(case.image)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        if not truth.any():
            continue
        prob, _ = cached_probability(case, package, 1, cache, key)
        for inside, d, t in large_tumours(truth, ct, data / "meta" / f"{case.name}.json", min_diameter_mm=0.0):
            if d < SMALL_MM:
                rows.append({"case": f"{data.name}/{case.name}", "kind": t.get("kind"), "zone": t.get("zone"),
                             "diameter_mm": round(d, 1), "peak": round(float(prob[inside].max()), 3)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("data")
    ap.add_argument("--arm", nargs=3, action="append", required=True, metavar=("NAME", "PACKAGE", "CACHES"))
    a = ap.parse_args()
    data = [Path(p) for p in a.data.split(",")]
    result = {}
    for name, package, caches in a.arm:
        loaded = load_package(Path(package))  # once per arm: loading checks every weight file's SHA-256
        rows = [r for d, c in zip(data, caches.split(",")) for r in small_tumours(loaded, d, Path(c))]
        threshold = float(loaded.card["postprocessing"]["threshold"])
        by_kind = {}
        for kind in sorted({r["kind"] for r in rows}, key=str):
            group = [r for r in rows if r["kind"] == kind]
            by_kind[str(kind)] = {"tumours": len(group), "responded": sum(r["peak"] >= RESPONSE for r in group)}
        result[name] = {"tumours": len(rows), "responded": sum(r["peak"] >= RESPONSE for r in rows),
                        "above_threshold": sum(r["peak"] >= threshold for r in rows),
                        "median_peak": float(np.median([r["peak"] for r in rows])) if rows else None,
                        "by_kind": by_kind, "rows": rows}
        print(f"{name}: {result[name]['responded']}/{len(rows)} tumours < 10 mm with peak >= {RESPONSE} "
              f"(median peak {result[name]['median_peak']}); by kind {by_kind}", flush=True)
    a.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
