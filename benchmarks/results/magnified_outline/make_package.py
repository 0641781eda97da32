"""Make demo package 0.12.0 from 0.11.0: the join after the judgement that PLAN_after.md decided on.

Run from the repository root on a copy of the 0.11.0 package (git history, commit a5af424):

    python benchmarks/results/magnified_outline/make_package.py PACKAGE_DIR

Only the card changes (no weight file is rewritten, so every SHA-256 stays): the look's
``join_touching`` is switched on, version and description are set, and the decision is recorded
in ``metrics.magnified_join_decision``. The held-out numbers are then measured through the real
pipeline (``benchmarks/heldout_phantoms.py --write-card``, ``benchmarks/froc_phantoms.py
--write-card froc_heldout_phantoms``; commands.sh). Synthetic phantoms only: a demonstration,
not for clinical use.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))

from lungtumorseg.io import write_text_atomic  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402

VERSION = "0.12.0"
JOIN_RULE = ("after every judgement (classifiers, limits, outline growth), each lesion takes in the components of the "
             "magnified map at the card threshold that overlap or face-touch it; a component touching several lesions "
             "joins the largest (benchmarks/results/magnified_outline/PLAN_after.md, metrics.magnified_join_decision)")


def decision_metrics() -> dict:
    """``metrics.magnified_join_decision`` from the decision file and the two calibration diagnoses."""
    decision = json.loads((HERE / "decision_after.json").read_text())
    diagnoses = {name: json.loads((HERE / f"diagnosis_after_{name}.json").read_text())["summary"]
                 for name in ("cal1", "cal2")}
    return {
        "plan": "benchmarks/results/magnified_outline/PLAN_after.md (written before the decision run)",
        "counting": "the card's whole post-processing of the merged map, then the join, from the cached float16 maps, "
                    "scored by the held-out benchmark's evaluate_prediction; large = truth tumours >= 10 mm",
        "diagnosis_calibration": {"set_1_seeds_160_199": diagnoses["cal1"], "set_2_seeds_200_239": diagnoses["cal2"],
                                  "files": "benchmarks/results/magnified_outline/diagnosis_after_cal{1,2}.json"},
        "decision": {"phantoms": "48 (seeds 10200-10247), never used for the join question",
                     "without_join": decision["summary"]["baseline"], "with_join": decision["summary"]["A"],
                     "rules": decision["rules"], "passed": decision["decision_passed"],
                     "file": "benchmarks/results/magnified_outline/decision_after.json"},
        "synthetic": True,
        "note": "synthetic phantoms: checks the software and the demo weights, not clinical accuracy",
    }


def main(folder: Path) -> None:
    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    if card["version"] != "0.11.0":
        raise SystemExit(f"expected demo package 0.11.0, got {card['version']}")
    if not decision_metrics()["decision"]["passed"]:
        raise SystemExit("the decision did not pass: nothing to ship")
    card["magnified_look"]["join_touching"] = True
    card["magnified_look"]["join_rule"] = JOIN_RULE
    card["version"] = VERSION
    card["description"] = (
        "0.12.0: 0.11.0 unchanged up to its final lesions, which then take in the magnified look's components touching "
        "them (magnified_look.join_touching): the networks mark about half of a part-solid or ground-glass tumour at "
        "their own scale and more of it magnified. Which lesions exist does not change; their outlines cover more of "
        "each tumour (benchmarks/results/magnified_outline, metrics.magnified_join_decision). "
    ) + card["description"]
    card["metrics"]["magnified_join_decision"] = decision_metrics()
    write_text_atomic(json.dumps(card, indent=2) + "\n", folder / "model.json")
    package = load_package(folder)
    assert package.card.magnified_look is not None and package.card.magnified_look.join_touching
    print(f"{package.card.name} {package.card.version}: magnified look joins its touching components")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
