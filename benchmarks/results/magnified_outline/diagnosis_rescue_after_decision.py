"""After the failed decision (nothing rescued on seeds 10300-10347), a diagnosis, not a gate:
every rejected candidate the product reviews (look cut-off 0), with the look's score, so the
decision's "nothing" can be told apart from a rescue that never runs.

Usage: diagnosis_rescue_after_decision.py OUT.json PACKAGE_0.10.0 ZOOMED_MAPS LOOK_CLASSIFIER DATA:CACHE
(from a worktree of commit 2ef54d1, like ``decide_rescue.py``: main does not keep the rescue code)
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))
sys.path.insert(0, str(HERE.parent / "zoom_tta"))
sys.path.insert(0, str(HERE.parent / "heldout48"))

from gate import as_image  # noqa: E402
from gate_join import Arms  # noqa: E402
from lungtumorseg.measure import RESCUED  # noqa: E402
from lungtumorseg.relabel import MeasureContext, lesions_from_probability  # noqa: E402


def main() -> None:
    out, pkg, maps, weights = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    arms = Arms(pkg, weights, ("any",))
    reviewed = []
    for looked in arms.cases(maps, sys.argv[5:]):
        merged, zoom = as_image(looked.added.probability, looked.image), as_image(looked.zoom, looked.image)
        context = MeasureContext(looked.lung_z, None, looked.added.points)
        _, lesions = lesions_from_probability(merged, looked.image, arms.threshold, arms.rule, context, arms.check,
                                              zoom, replace(arms.look_check, cutoff=0.0))
        scores = [round(lesion.candidate_score, 4) for lesion in lesions if lesion.found_by == RESCUED]
        reviewed += [{"case": looked.name, "look_score": s} for s in scores]
        print(f"{looked.name}: reviewed {len(scores)}: {scores}", flush=True)
    result = {"reviewed": reviewed, "n_reviewed": len(reviewed),
              "n_at_or_above_0.94": sum(r["look_score"] >= 0.94 for r in reviewed),
              "diagnosis_only": True, "note": "synthetic phantoms, not clinical accuracy"}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "reviewed"}, indent=1))


if __name__ == "__main__":
    main()
