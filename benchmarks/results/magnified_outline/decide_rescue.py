"""PLAN_rescue.md's decision: demo 0.12.0 against variant R (the look's classifier reviews the
candidates the candidate classifier rejects) on seeds 10300-10347, from cached maps, both arms
through the product's own post-processing (``lungtumorseg.relabel.lesions_from_probability``
with the look's join; R adds ``rescue``, ``lungtumorseg.rescue``), so what is decided is what
would ship.

The gate on calibration set 1 (``gate_rescue_cal1.json``) scored R as ``diagnosis_rescue.py``
does: the rescued joined candidates added to 0.12.0's final mask, for every candidate scoring
below the card's cut-off (also those the lesion limits drop). The product reviews only the
candidates the check rejects (those past the limits), leaves out of the join the magnified
components that reach a kept candidate, keeps the candidate, grows its outline like the
others' and joins the touching magnified components after (PLAN_rescue.md, addendum).

Usage: decide_rescue.py OUT.json PACKAGE_0.10.0 ZOOMED_MAPS LOOK_CLASSIFIER DATA:CACHE

The decision failed (``decision_rescue.json``), so the product code it exercises
(``lungtumorseg.rescue`` and its plumbing, core 0.10.0 in commit e0c30fd) was not kept on main:
run this script from a worktree of commit 2ef54d1 (``git worktree add DIR 2ef54d1``; it puts that
tree's ``LungTumorSeg`` first on the path), as session 32 did.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import SimpleITK as sitk

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))
sys.path.insert(0, str(HERE.parent / "zoom_tta"))
sys.path.insert(0, str(HERE.parent / "heldout48"))

from gate import as_image  # noqa: E402  (zoom_tta's helper)
from gate_join import Arms  # noqa: E402  (the cases with 0.12.0's look applied, and the measures)
from lungtumorseg.measure import RESCUED  # noqa: E402
from lungtumorseg.relabel import MeasureContext, lesions_from_probability  # noqa: E402

MORE_FP, DICE_DROP = 2, 0.005  # PLAN_rescue.md


def main() -> None:
    out, pkg, maps, weights = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    arms = Arms(pkg, weights, ("0.12.0", "R"))
    rescued_lesions = []
    for looked in arms.cases(maps, sys.argv[5:]):
        merged, zoom = as_image(looked.added.probability, looked.image), as_image(looked.zoom, looked.image)
        context = MeasureContext(looked.lung_z, None, looked.added.points)
        line = []
        for arm, rescue in (("0.12.0", None), ("R", arms.look_check)):
            labels, lesions = lesions_from_probability(merged, looked.image, arms.threshold, arms.rule, context,
                                                       arms.check, zoom, rescue)
            line.append(arms.score(arm, looked, sitk.GetArrayFromImage(labels) > 0))
            if rescue is not None:
                rescued_lesions += [{"case": looked.name, "volume_ml": lesion.volume_ml,
                                     "look_score": lesion.candidate_score}
                                    for lesion in lesions if lesion.found_by == RESCUED]
        print(f"{looked.name}: " + ", ".join(line), flush=True)
    summary = arms.summary()
    for arm, rows in arms.rows.items():
        summary[arm]["found"] = sum(r["found"] for r in rows)
    b, r = summary["0.12.0"], summary["R"]
    rules = {"tumours >= 10 mm not fewer": r["large_found"] >= b["large_found"],
             "tumours found at least one more": r["found"] >= b["found"] + 1,
             "false positives at most 2 more": r["false_positives"] <= b["false_positives"] + MORE_FP,
             "tumour-free clean not fewer": r["clean"] >= b["clean"],
             "mean Dice not lower by more than 0.005": r["mean_dice_tumour_cases"] >= b["mean_dice_tumour_cases"] - DICE_DROP}
    result = {"cases": len(arms.rows["R"]), "summary": summary, "rules": rules, "decision_passed": all(rules.values()),
              "rescued_lesions": rescued_lesions,
              "per_case_dice": {arm: [round(row["dice"], 4) for row in rows] for arm, rows in arms.rows.items()},
              "note": "synthetic phantoms, not clinical accuracy"}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_case_dice"}, indent=1))


if __name__ == "__main__":
    main()
