"""The pilot's rule (PLAN.md): arm P against arm A at matched false components.

For each arm's cached normal maps of an MSD folder and each threshold of the grid: components
of the map at or above it (face-connected, >= 30 mm3); a truth tumour >= 10 mm (equivalent
diameter) is detected when a component overlaps it, a component overlapping no truth voxel is
false. A is read at the card threshold 0.45; P at the lowest threshold with at most A's false
components (and, for the record, at most twice as many). Synthetic phantoms, not clinical accuracy.

Usage: compare.py OUT.json DATA --arm NAME MAP_DIR [--arm NAME MAP_DIR]  (first arm = A, second = P)
Map files: ``MAP_DIR/<case>-*-nolook.npy`` (``classifier_clinical_grid/maps.py``), one per case.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import SimpleITK as sitk

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
sys.path.insert(0, str(HERE.parent / "heldout48"))

from lungtumorseg.evaluation.lesions import label_components  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402
from misses import large_tumours  # noqa: E402

THRESHOLDS = [round(0.30 + 0.05 * i, 2) for i in range(14)] + [0.97, 0.99]
CARD_THRESHOLD = 0.45
MIN_MM3 = 30.0
NON_SOLID = ("part-solid", "ground-glass")


def map_file(map_dir: Path, case: str) -> Path:
    found = sorted(map_dir.glob(f"{case}-*-nolook.npy"))
    if len(found) != 1:
        raise SystemExit(f"{map_dir}: expected one normal map of {case}, found {len(found)}")
    return found[0]


def case_counts(prob: np.ndarray, truth: np.ndarray, tumours: list[np.ndarray], voxel_mm3: float) -> dict:
    """Per threshold: false components and, per tumour >= 10 mm, whether one overlaps it and
    the share of its voxels at the threshold."""
    out = {}
    for t in THRESHOLDS:
        lab, n = label_components(prob >= t)
        sizes = np.bincount(lab.ravel(), minlength=n + 1) * voxel_mm3
        keep = np.nonzero(sizes >= MIN_MM3)[0]
        keep = keep[keep > 0]
        hit_truth = set(np.unique(lab[truth]).tolist())
        false = int(sum(1 for k in keep if k not in hit_truth))
        kept = np.isin(lab, keep)
        out[t] = {"false": false,
                  "detected": [bool(kept[m].any()) for m in tumours],
                  "share": [float((prob[m] >= t).mean()) for m in tumours]}
    return out


def arm_tables(data: Path, map_dirs: dict[str, Path]) -> dict[str, tuple[list[dict], dict[float, int]]]:
    """Per arm: its tumours >= 10 mm (kind, zone, detected and share per threshold) and its false
    components per threshold over the folder. Each case's truth is read once for every arm."""
    tables = {name: ([], defaultdict(int)) for name in map_dirs}
    for case in discover_cases(data):
        image = read_image(case.image)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        big = list(large_tumours(truth, image, data / "meta" / f"{case.name}.json"))
        voxel_mm3 = float(np.prod(image.GetSpacing()))
        for name, map_dir in map_dirs.items():
            tumours, false = tables[name]
            prob = np.load(map_file(map_dir, case.name)).astype(np.float32)
            counts = case_counts(prob, truth, [m for m, _, _ in big], voxel_mm3)
            for t in THRESHOLDS:
                false[t] += counts[t]["false"]
            for j, (_, d, info) in enumerate(big):
                tumours.append({"case": case.name, "kind": info["kind"], "zone": info["zone"],
                                "location": info["location"], "diameter_mm": round(d, 1),
                                "detected": {str(t): counts[t]["detected"][j] for t in THRESHOLDS},
                                "share": {str(t): round(counts[t]["share"][j], 3) for t in THRESHOLDS}})
        print(case.name, flush=True)
    return {name: (tumours, dict(false)) for name, (tumours, false) in tables.items()}


def at(tumours: list[dict], false: dict[float, int], t: float) -> dict:
    """The arm's counts at threshold ``t``."""
    key = str(t)
    non_solid = [x for x in tumours if x["kind"] in NON_SOLID]
    by_kind = defaultdict(lambda: [0, 0])
    for x in tumours:
        for g in (f"kind {x['kind']}", f"zone {x['zone']}", f"location {x['location']}"):
            by_kind[g][0] += x["detected"][key]
            by_kind[g][1] += 1
    return {"threshold": t, "false_components": false[t],
            "detected_ge10": sum(x["detected"][key] for x in tumours), "n_ge10": len(tumours),
            "non_solid_detected": sum(x["detected"][key] for x in non_solid), "n_non_solid": len(non_solid),
            "non_solid_median_share": float(np.median([x["share"][key] for x in non_solid])) if non_solid else None,
            "groups": {g: f"{v[0]}/{v[1]}" for g, v in sorted(by_kind.items())}}


def matched(false: dict[float, int], budget: int) -> float | None:
    """The lowest threshold of the grid with at most ``budget`` false components."""
    ok = [t for t in THRESHOLDS if false[t] <= budget]
    return min(ok) if ok else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--arm", nargs=2, action="append", required=True, metavar=("NAME", "MAP_DIR"))
    a = ap.parse_args()
    arms = arm_tables(a.data, {name: Path(d) for name, d in a.arm})
    names = list(arms)
    result: dict = {"data": str(a.data), "thresholds": THRESHOLDS, "arms": {}}
    a_name = names[0]
    a_tumours, a_false = arms[a_name]
    a_row = at(a_tumours, a_false, CARD_THRESHOLD)
    for name in names:
        tumours, false = arms[name]
        rows = {"curve": [at(tumours, false, t) for t in THRESHOLDS], "tumours_ge10": tumours}
        if name == a_name:
            rows["at_card_threshold"] = a_row
        else:
            for label, budget in (("matched", a_row["false_components"]), ("twice", 2 * a_row["false_components"])):
                t = matched(false, budget)
                rows[label] = at(tumours, false, t) if t is not None else None
        result["arms"][name] = rows
        for row in rows["curve"]:
            print(f"{name} t={row['threshold']:.2f}  false {row['false_components']:4d}  >=10 mm "
                  f"{row['detected_ge10']}/{row['n_ge10']}  non-solid {row['non_solid_detected']}/{row['n_non_solid']}"
                  f"  median non-solid share {row['non_solid_median_share']:.2f}")
    if len(names) == 2:
        p = result["arms"][names[1]]["matched"]
        rule = {"detected_not_2_fewer": bool(p and p["detected_ge10"] >= a_row["detected_ge10"] - 2),
                "non_solid_gain": bool(p and (p["non_solid_detected"] >= a_row["non_solid_detected"] + 2 or
                                              p["non_solid_median_share"] >= a_row["non_solid_median_share"] + 0.10))}
        result["rule"] = rule
        result["continue"] = all(rule.values())
        print("A at 0.45:", {k: v for k, v in a_row.items() if k != "groups"})
        print("P matched:", {k: v for k, v in p.items() if k != "groups"} if p else None)
        print("rule", rule, "CONTINUE" if result["continue"] else "line closes")
    a.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
