"""Make the demo package with the candidate classifier: a copy of SRC (0.9.0) whose
post-processing keeps every component of >= 30 mm3 at the card threshold for the classifier
to judge (the candidates it was gated on), with the classifier attached.

Usage: build_package.py SRC DEST WEIGHTS CUTOFF GATE_JSON
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from classifier import BATCH, EPOCHS, LR, SEED  # noqa: E402
from lungtumorseg.models.package import CARD_FILE, attach_candidate_check  # noqa: E402
from lungtumorseg.postprocess import LesionFilter  # noqa: E402

EXPERIMENT = "benchmarks/results/candidate_classifier_experiment"
VERSION = "0.10.0"


def main() -> None:
    src, dest, weights, cutoff, gate_json = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]), Path(sys.argv[5])
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    card = json.loads((dest / CARD_FILE).read_text(encoding="utf-8"))
    old = card["postprocessing"]
    limits = LesionFilter(min_lesion_mm3=30.0).to_dict()
    card["postprocessing"] = {"threshold": old["threshold"], **limits, "outline_growth": old["outline_growth"]}
    card["version"] = VERSION
    card["metrics"]["threshold_calibration_0.9.0"] = card["metrics"].pop("threshold_calibration")
    card["metrics"]["threshold_calibration_0.9.0"]["note"] = (
        "0.9.0's operating point (threshold and limits); from 0.10.0 the limits other than >= 30 mm3 are replaced "
        "by the candidate classifier (candidate_check), the threshold and outline growth are kept")
    for stale in ("heldout_phantoms", "froc_heldout_phantoms"):  # rewritten by the benchmarks for this version
        card["metrics"].pop(stale, None)
    gate = json.loads(gate_json.read_text(encoding="utf-8"))
    card["metrics"]["candidate_check_gate"] = {
        "calibration_phantom_seeds": [160, 239],
        "out_of_fold_5_fold_seed_24": gate["classifier_out_of_fold"],
        "card_limits_0.9.0_in_sample": gate["baseline_card_limits"],
        "note": "synthetic phantoms, not clinical accuracy; see " + EXPERIMENT + "/RESULTS.md",
    }
    card["description"] = (
        f"{VERSION}: 0.9.0's zone networks unchanged, with a second look at every lesion candidate: a small 3D CNN "
        "(MONAI Classifier) scores a 48 mm patch around each component of >= 30 mm3 at the threshold (CT, tumour "
        "probability, the component's mask) and candidates below its cut-off are dropped; it replaces 0.9.0's "
        "limits on peak probability, elongation and density and its 250 mm3 minimum (candidate_check, "
        f"{EXPERIMENT}). " + card["description"])
    (dest / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    section = {
        "cutoff": cutoff,
        "cutoff_rule": "the lowest cut-off whose false positives per case on the 80 calibration phantoms (seeds "
                       "160-239) are at most half the issue's bound (<= 0.15)",
        "network": {"architecture": "monai.networks.nets.Classifier", "channels": [16, 32, 64, 128],
                    "strides": [2, 2, 2, 2], "num_res_units": 1, "dropout": 0.1},
        "patch": {"voxels": 32, "spacing_mm": 1.5, "axes": "LPS", "channels": ["CT -1000..400 HU to 0..1",
                  "tumour probability (whole percent)", "candidate mask"], "test_time_flips": 8},
        "candidates": "components (face connectivity) of the probability map at the card threshold with >= 30 mm3",
        "training": {
            "data": "candidates of 0.9.0 on 122 mining phantoms never used elsewhere (seeds 300-356 and 380-444): "
                    "900 candidates, 197 touching a truth tumour",
            "loss": "class-balanced binary cross-entropy", "optimiser": "AdamW, weight decay 1e-4, one-cycle",
            "lr": LR, "epochs": EPOCHS, "batch": BATCH, "seed": SEED, "kept_weights": "last",
            "augmentation": "random flips of each axis, random axial transpose",
            "command": f"{EXPERIMENT}/commands.sh",
        },
        "demo": "trained on synthetic data, a demonstration, not for clinical use",
    }
    attach_candidate_check(dest, load_file(str(weights)), section)
    print("wrote", dest)


if __name__ == "__main__":
    main()
