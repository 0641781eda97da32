"""Make demo package 0.13.0 from 0.12.0: the half-maximum outlines that PLAN.md decided on.

Run from the repository root on the 0.12.0 package (in place, or on a copy):

    python benchmarks/results/half_maximum/make_package.py PACKAGE_DIR

Only the card changes (no weight file is rewritten, so every SHA-256 stays): the outline growth
gets ``half_maximum_outline`` (the defaults of ``lungtumorseg.half_maximum.HalfMaximumOutline``,
the rule decided), version and description are set, and the decision is recorded in
``metrics.half_maximum_decision``. The held-out numbers are then measured through the real
pipeline (``benchmarks/heldout_phantoms.py --write-card``; commands.sh). Synthetic phantoms
only: a demonstration, not for clinical use.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))

from lungtumorseg.half_maximum import CARD_KEY, HalfMaximumOutline  # noqa: E402
from lungtumorseg.io import write_text_atomic  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402

VERSION = "0.13.0"


def decision_metrics() -> dict:
    """``metrics.half_maximum_decision`` from the decision file and the development run."""
    decision = json.loads((HERE / "decision_10400.json").read_text())
    development = json.loads((HERE / "development_10300.json").read_text())
    return {
        "plan": "benchmarks/results/half_maximum/PLAN.md (written before the decision run, addendum included)",
        "counting": "the card's whole post-processing of the merged map with the look's join, with and without the "
                    "half-maximum outlines, from the cached float16 maps, scored by the held-out benchmark's "
                    "evaluate_prediction; large = truth tumours >= 10 mm",
        "development": {"phantoms": "48 (seeds 10300-10347; used before for PLAN_rescue.md's decision)",
                        "without": development["summary"]["0.12.0"], "with": development["summary"]["H"],
                        "file": "benchmarks/results/half_maximum/development_10300.json"},
        "decision": {"phantoms": "32 (seeds 10400-10431), never used for anything before",
                     "without": decision["summary"]["0.12.0"], "with": decision["summary"]["H"],
                     "rules": decision["rules"], "passed": decision["decision_passed"],
                     "file": "benchmarks/results/half_maximum/decision_10400.json"},
        "synthetic": True,
        "note": "synthetic phantoms: checks the software and the demo weights, not clinical accuracy",
    }


def main(folder: Path) -> None:
    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    if card["version"] != "0.12.0":
        raise SystemExit(f"expected demo package 0.12.0, got {card['version']}")
    if not decision_metrics()["decision"]["passed"]:
        raise SystemExit("the decision did not pass: nothing to ship")
    card["postprocessing"]["outline_growth"][CARD_KEY] = HalfMaximumOutline().to_dict()
    card["version"] = VERSION
    card["description"] = (
        "0.13.0: 0.12.0 unchanged up to its final lesions, whose edges are then put where the CT is half-way between "
        "each lesion and the lung around it (postprocessing.outline_growth.half_maximum_outline): solid tumours were "
        "outlined too wide, ground-glass ones too narrow. Which lesions exist does not change "
        "(benchmarks/results/half_maximum, metrics.half_maximum_decision). "
    ) + card["description"]
    card["metrics"]["half_maximum_decision"] = decision_metrics()
    write_text_atomic(json.dumps(card, indent=2) + "\n", folder / "model.json")
    package = load_package(folder)
    assert package.card.lesion_filter.outline_growth.half_maximum == HalfMaximumOutline()
    print(f"{package.card.name} {package.card.version}: half-maximum outlines")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
