"""The stage-3 candidate package (PLAN_stage3.md): the stage-2 candidate's card and upper
network, with the middle and lower networks replaced by the best-validated weights of the
stage-3 checkpoints.

usage: python make_stage3_candidate.py STAGE2_CANDIDATE CHECKPOINT_DIR OUT
"""
import copy
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
from lungtumorseg.models.package import load_package, save_package  # noqa: E402

stage2, checkpoints, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
source = load_package(stage2)
card = copy.deepcopy(json.loads((stage2 / "model.json").read_text()))
card.pop("weights", None)
card["name"], card["version"] = "lungtumorseg-grid-stage3-candidate", "0.0.3"
card["description"] = ("Grid experiment stage 3 candidate: 1.0 mm grid, upper = stage-1 arm, middle and lower trained "
                       "on their own mined false positives. Synthetic data, a demonstration, not for clinical use.")
weights = {"upper": source.load_network("upper", "cpu").state_dict()}
for zone in ("middle", "lower"):
    ck = torch.load(checkpoints / f"{zone}.pt", map_location="cpu", weights_only=True)
    best = [h for h in ck["history"] if h["val_dice"] == ck["best"]]
    print(f"{zone}: checkpoint step {ck['step']}, best validation Dice {ck['best']:.3f} at step {best[0]['step']}")
    card.setdefault("metrics", {}).setdefault("validation", {})[zone] = {
        "best_validation_dice": ck["best"], "best_step": best[0]["step"], "steps": ck["step"], "history": ck["history"]}
    weights[zone] = ck["best_state"]
save_package(out, card, weights)
print(f"written {out}")
