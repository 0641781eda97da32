"""Make demo package 0.11.0 from 0.10.0: the magnified second look this experiment decided on.

Run from the repository root on a copy of the 0.10.0 package (git history, commit 07cfe39):

    python benchmarks/results/zoom_tta/make_package.py PACKAGE_DIR [LOOK_CLASSIFIER]

It attaches the look (zoom 1.5, cut-off C2 = 0.94, the committed ``look_classifier.safetensors``
or the LOOK_CLASSIFIER given, e.g. one retrained by ``scripts/train_demo_model.sh``)
with ``attach_magnified_look`` (complete or unchanged), sets version and description, and
records the gate and the decision in ``metrics.magnified_look_gate``. The held-out numbers are
then measured through the real pipeline: ``benchmarks/heldout_phantoms.py --write-card`` and
``benchmarks/froc_phantoms.py --write-card froc_heldout_phantoms`` (commands.sh, step 6).
Synthetic phantoms only: a demonstration, not for clinical use.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from safetensors.torch import load_file

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))

from lungtumorseg.io import write_text_atomic  # noqa: E402
from lungtumorseg.models.package import attach_magnified_look, load_package  # noqa: E402

ZOOM, CUTOFF, VERSION = 1.5, 0.94, "0.11.0"
COMMITTED = HERE / "look_classifier.safetensors"  # the classifier the gate and the decision measured
#: the columns of the gate's and the decision's tables kept in the card
COLUMNS = ("cutoff", "large_found", "large", "false_positives", "fp_per_case", "mean_dice_tumour_cases", "clean",
           "magnified_lesions")


def look_section(card: dict) -> dict:
    """The card's ``magnified_look``: how the look runs, how its cut-off was chosen, and its
    classifier (0.10.0's candidate-classifier architecture and patch)."""
    return {
        "zoom": ZOOM,
        "cutoff": CUTOFF,
        "cutoff_rule": "C2 of benchmarks/results/zoom_tta/PLAN.md: the lowest cut-off adding at most 0.10 false positives "
                       "per case on calibration set 2 (40 phantoms, seeds 200-239), then confirmed on 48 fresh phantoms "
                       "(seeds 10200-10247; metrics.magnified_look_gate)",
        "candidates": "components of the magnified map (the CT resampled to 1.5 mm / 1.5 = 1 mm, the same zone networks) at "
                      "the card threshold with >= 30 mm3 that neither overlap nor touch a component of the normal map",
        "network": card["candidate_check"]["network"],
        "patch": card["candidate_check"]["patch"],
        "training": {
            "data": "candidates of the 1.5x magnified maps of 0.10.0 on calibration set 1 (40 phantoms, seeds 160-199): "
                    "1,986 candidates, 74 touching a truth tumour",
            "recipe": "0.10.0's candidate classifier recipe (candidate_check.training): class-balanced binary cross-entropy, "
                      "AdamW, one-cycle, lr 1e-3, 30 epochs, batch 32, seed 24, last weights kept, random flips and axial "
                      "transpose",
            "command": "benchmarks/results/zoom_tta/commands.sh",
        },
        "cost": "one more pass of the zone networks over about zoom^3 = 3.4 times the voxels",
        "demo": "trained on synthetic data, a demonstration, not for clinical use",
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def gate_metrics(classifier: Path) -> dict:
    """``metrics.magnified_look_gate`` from the experiment's gate and decision files, which
    were measured with the committed classifier; a package given another one says so."""
    gate = json.loads((HERE / "gate_cal2_own.json").read_text())
    decision = json.loads((HERE / "decision.json").read_text())
    pick = lambda row: {k: row[k] for k in COLUMNS}  # noqa: E731
    gated, given = sha256(COMMITTED), sha256(classifier)
    return {
        "plan": "benchmarks/results/zoom_tta/PLAN.md (addenda 1-3, written before each run)",
        "counting": "the card's whole post-processing of the merged map (threshold, limits, classifiers, outline growth), "
                    "from the cached float16 maps, scored by the held-out benchmark's evaluate_prediction; "
                    "large = truth tumours >= 10 mm",
        "calibration_set_2": {"phantoms": "40 (seeds 200-239)", "card_alone": pick(gate["card_alone"]),
                              "with_look": pick(gate["chosen"]), "false_positive_budget": gate["false_positive_budget"],
                              "passed": gate["gate_passed"], "file": "benchmarks/results/zoom_tta/gate_cal2_own.json"},
        "decision": {"phantoms": "48 fresh (seeds 10200-10247), the first comparison made on them",
                     "card_alone": pick(decision["card_alone"]), "with_look": pick(decision["look"]),
                     "rules": decision["rules"], "passed": decision["ship"],
                     "file": "benchmarks/results/zoom_tta/decision.json"},
        "look_classifier_sha256": gated,
        **({} if given == gated else {
            "not_gated": f"this package's look classifier (sha256 {given}) is not the one the gate and the "
                         "decision measured: re-run ../zoom_tta/gate.py and the decision before trusting its cut-off"}),
        "synthetic": True,
        "note": "synthetic phantoms: checks the software and the demo weights, not clinical accuracy",
    }


def main(folder: Path, classifier: Path = COMMITTED) -> None:
    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    if card["version"] != "0.10.0":
        raise SystemExit(f"expected demo package 0.10.0, got {card['version']}")
    attach_magnified_look(folder, look_section(card), state=load_file(classifier))
    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    card["version"] = VERSION
    card["description"] = (
        "0.11.0: 0.10.0 unchanged, with a magnified second look: the zone networks run once more on the CT resampled "
        "1.5 times finer (1 mm), and a lesion candidate only this look finds is kept when its own small 3D CNN (MONAI "
        "Classifier, 0.10.0's recipe, trained on the magnified candidates of 40 calibration phantoms) scores it >= 0.94 "
        "(magnified_look, benchmarks/results/zoom_tta). It finds small and part-solid tumours the networks miss at their "
        "own scale; a run takes three to five times as long (benchmarks/predict_timing.py); predict --no-magnified-look or "
        "the module's check box skip it. "
    ) + card["description"]
    card["metrics"]["magnified_look_gate"] = gate_metrics(classifier)
    write_text_atomic(json.dumps(card, indent=2) + "\n", folder / "model.json")
    package = load_package(folder)
    print(f"{package.card.name} {package.card.version}: magnified look zoom {package.card.magnified_look.zoom:g}, "
          f"cut-off {package.card.magnified_look.cutoff:g}")


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:3]))
