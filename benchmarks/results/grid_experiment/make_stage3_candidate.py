"""A grid candidate package from checkpoints: the stage-2 candidate's card, with the networks
of the zones named (default: middle and lower, the stage-3 candidate of PLAN_stage3.md)
replaced by the best-validated weights of the checkpoints in CHECKPOINT_DIR; the other
zones keep the stage-2 candidate's networks. Stage 4 (PLAN_stage4.md): all three zones.

usage: python make_stage3_candidate.py STAGE2_CANDIDATE CHECKPOINT_DIR OUT [ZONE ...]
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
replaced = sys.argv[4:] or ["middle", "lower"]
source = load_package(stage2)
card = copy.deepcopy(json.loads((stage2 / "model.json").read_text()))
card.pop("weights", None)
stage = 4 if "upper" in replaced else 3
card["name"], card["version"] = f"lungtumorseg-grid-stage{stage}-candidate", f"0.0.{stage}"
card["description"] = (f"Grid experiment stage {stage} candidate: 1.0 mm grid; {', '.join(replaced)} trained on their "
                       "own mined false positives. Synthetic data, a demonstration, not for clinical use.")
weights = {zone: source.load_network(zone, "cpu").state_dict() for zone in source.card.zones if zone not in replaced}
for zone in replaced:
    ck = torch.load(checkpoints / f"{zone}.pt", map_location="cpu", weights_only=True)
    best = [h for h in ck["history"] if h["val_dice"] == ck["best"]]
    print(f"{zone}: checkpoint step {ck['step']}, best validation Dice {ck['best']:.3f} at step {best[0]['step']}")
    card.setdefault("metrics", {}).setdefault("validation", {})[zone] = {
        "best_validation_dice": ck["best"], "best_step": best[0]["step"], "steps": ck["step"], "history": ck["history"]}
    weights[zone] = ck["best_state"]
save_package(out, card, weights)
print(f"written {out}")
