"""PLAN.md's decision: demo 0.12.0 against H (0.12.0 + half-maximum outlines of the final
lesions) from cached maps, both arms through the product's own post-processing
(``lungtumorseg.relabel.lesions_from_probability`` with the look's join), so what is decided is
what would ship.

Usage: decide.py OUT.json PACKAGE_0.10.0 ZOOMED_MAPS LOOK_CLASSIFIER DATA:CACHE [DATA:CACHE ...]
(the maps as made by ``benchmarks/results/zoom_tta/zoom_probe.py``; commands.sh).

The decision failed (``decision_10400.json``), so the product code it exercises
(``lungtumorseg.half_maximum`` and its place in the card's outline growth) was not kept on main:
run this script from a worktree of commit 025aaf2 (``git worktree add DIR 025aaf2``; it puts that
tree's ``LungTumorSeg`` first on the path), as session 33 did from main before the revert.
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import SimpleITK as sitk

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))
sys.path.insert(0, str(HERE.parent / "zoom_tta"))
sys.path.insert(0, str(HERE.parent / "magnified_outline"))
sys.path.insert(0, str(HERE.parent / "heldout48"))

from gate import as_image  # noqa: E402  (zoom_tta's helper)
from gate_join import Arms  # noqa: E402  (the cases with 0.12.0's look applied, and the measures)
from lungtumorseg.half_maximum import HalfMaximumOutline  # noqa: E402
from lungtumorseg.relabel import MeasureContext, lesions_from_probability  # noqa: E402

DICE_GAIN = 0.01  # PLAN.md


def main() -> None:
    out, pkg, maps, weights = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    arms = Arms(pkg, weights, ("0.12.0", "H"))
    growth = replace(arms.rule.outline_growth, half_maximum=HalfMaximumOutline())
    rules = {"0.12.0": arms.rule, "H": replace(arms.rule, outline_growth=growth)}
    for looked in arms.cases(maps, sys.argv[5:]):
        merged, zoom = as_image(looked.added.probability, looked.image), as_image(looked.zoom, looked.image)
        context = MeasureContext(looked.lung_z, None, looked.added.points)
        line = []
        for arm, rule in rules.items():
            labels, _ = lesions_from_probability(merged, looked.image, arms.threshold, rule, context, arms.check, zoom)
            line.append(arms.score(arm, looked, sitk.GetArrayFromImage(labels) > 0))
        print(f"{looked.name}: " + ", ".join(line), flush=True)
    summary = arms.summary()
    for arm, rows in arms.rows.items():
        summary[arm]["found"] = sum(r["found"] for r in rows)
    b, h = summary["0.12.0"], summary["H"]
    checks = {"mean Dice at least 0.01 higher": h["mean_dice_tumour_cases"] >= b["mean_dice_tumour_cases"] + DICE_GAIN,
              "tumours >= 10 mm not fewer": h["large_found"] >= b["large_found"],
              "false positives not more": h["false_positives"] <= b["false_positives"],
              "tumour-free clean not fewer": h["clean"] >= b["clean"]}
    result = {"cases": len(arms.rows["H"]), "summary": summary, "rules": checks, "decision_passed": all(checks.values()),
              "per_case_dice": {arm: [round(row["dice"], 4) for row in rows] for arm, rows in arms.rows.items()},
              "note": "synthetic phantoms, not clinical accuracy"}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_case_dice"}, indent=1))


if __name__ == "__main__":
    main()
