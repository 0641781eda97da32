"""Make arm B's package (demo 0.11.0): a copy of 0.10.0 whose candidates are the components
at 0.30 (was 0.45), judged by the classifier retrained on the mining phantoms' candidates at
0.30, at the cut-off of the v2 rule on all 80 calibration phantoms.

Usage: build_package.py SRC DEST WEIGHTS GATE_JSON TRAINING_DATA_TEXT
"""
from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path

from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))

from lungtumorseg.models.package import CARD_FILE, attach_candidate_check  # noqa: E402

EXPERIMENT = "benchmarks/results/low_threshold_candidates"
VERSION = "0.11.0"
THRESHOLD = 0.30


def main() -> None:
    src, dest, weights, gate_json = (Path(a) for a in sys.argv[1:5])
    training_data = sys.argv[5]
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    card = json.loads((dest / CARD_FILE).read_text(encoding="utf-8"))
    gate = json.loads(gate_json.read_text(encoding="utf-8"))
    old_threshold = card["postprocessing"]["threshold"]
    card["postprocessing"]["threshold"] = THRESHOLD
    card["version"] = VERSION
    metrics = card["metrics"]
    metrics["candidate_check_gate_0.10.0"] = metrics.pop("candidate_check_gate")
    metrics.pop("heldout_phantoms", None)  # rewritten for this version by heldout_phantoms.py --write-card
    metrics["candidate_check_gate"] = {
        "calibration_phantom_seeds": [160, 239],
        "b_out_of_fold_5_fold_seed_24": gate["pipeline_b_out_of_fold"],
        "a_0.10.0_cutoff_in_sample": gate["pipeline_a_0.10.0"],
        "note": "synthetic phantoms, not clinical accuracy; see " + EXPERIMENT + "/RESULTS.md",
    }
    card["description"] = (
        f"{VERSION}: as 0.10.0, with lesion candidates taken at probability {THRESHOLD:g} instead of "
        f"{old_threshold:g} (more tumours the networks respond to weakly become candidates) and the candidate "
        f"classifier retrained on candidates at {THRESHOLD:g} ({EXPERIMENT}). "
        + card["description"].split(": ", 1)[1])
    (dest / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    section = copy.deepcopy(card["candidate_check"])
    section["cutoff"] = gate["b_cutoff_all_80"]
    section["training"]["data"] = training_data
    section["training"]["command"] = f"{EXPERIMENT}/commands.sh"
    attach_candidate_check(dest, load_file(str(weights)), section)
    print("wrote", dest)


if __name__ == "__main__":
    main()
