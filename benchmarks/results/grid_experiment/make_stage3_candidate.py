"""A candidate package from checkpoints: a base package's card, with the networks of the
zones named (default: middle and lower, the stage-3 candidate of PLAN_stage3.md) replaced by
the best-validated weights of the checkpoints in CHECKPOINT_DIR; the other zones keep the
base package's networks. Grid stage 4 (PLAN_stage4.md): all three zones on the stage-2
candidate; the middle-zone experiment (../middle_zone_experiment/PLAN.md): the middle zone
on the demo package, with ``--name`` and ``--description``.

usage: python make_stage3_candidate.py BASE_PACKAGE CHECKPOINT_DIR OUT [ZONE ...]
           [--name NAME --description TEXT]
"""
import argparse
import copy
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
from lungtumorseg.models.package import load_package, save_package  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("base", type=Path)
parser.add_argument("checkpoints", type=Path)
parser.add_argument("out", type=Path)
parser.add_argument("zones", nargs="*", default=["middle", "lower"])
parser.add_argument("--name")
parser.add_argument("--description")
args = parser.parse_args()
source = load_package(args.base)
card = copy.deepcopy(json.loads((args.base / "model.json").read_text()))
card.pop("weights", None)
stage = 4 if "upper" in args.zones else 3
card["name"] = args.name or f"lungtumorseg-grid-stage{stage}-candidate"
card["version"] = "0.0.0" if args.name else f"0.0.{stage}"
card["description"] = args.description or (
    f"Grid experiment stage {stage} candidate: 1.0 mm grid; {', '.join(args.zones)} trained on their "
    "own mined false positives. Synthetic data, a demonstration, not for clinical use.")
weights = {zone: source.load_network(zone, "cpu").state_dict() for zone in source.card.zones if zone not in args.zones}
for zone in args.zones:
    ck = torch.load(args.checkpoints / f"{zone}.pt", map_location="cpu", weights_only=True)
    best = [h for h in ck["history"] if h["val_dice"] == ck["best"]]
    print(f"{zone}: checkpoint step {ck['step']}, best validation Dice {ck['best']:.3f} at step {best[0]['step']}")
    card.setdefault("metrics", {}).setdefault("validation", {})[zone] = {
        "best_validation_dice": ck["best"], "best_step": best[0]["step"], "steps": ck["step"], "history": ck["history"]}
    weights[zone] = ck["best_state"]
save_package(args.out, card, weights)
print(f"written {args.out}")
