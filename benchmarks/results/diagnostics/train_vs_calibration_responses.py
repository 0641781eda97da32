"""How the shipped zone networks answer tumours >= 10 mm of their own training phantoms against
unseen calibration phantoms (session 35; synthetic phantoms, not clinical accuracy).

Inputs are two ``gate.py`` outputs of ``../partsolid_synthetic/`` on 0.10.0's card (the shipped
networks, no magnified look): one on the 60 training phantoms (seeds 100-159, split in two
folders), one on the 80 calibration phantoms (seeds 160-239, arm A of ``../ensemble_ab/``).
Per kind, zone and phantom size: tumours, how many get a response (peak >= 0.5 inside) and the
median share of each tumour's voxels at the card threshold 0.45.

Usage: train_vs_calibration_responses.py TRAINING_GATE.json CALIBRATION_GATE.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

VALIDATION = {"lung_000", "lung_002", "lung_003", "lung_017", "lung_022", "lung_037", "lung_038", "lung_039", "lung_043"}


def table(tumours: list[dict], title: str) -> None:
    print(title)
    groups: dict[str, list[dict]] = {}
    for t in tumours:
        for g in ("all", f"kind {t['kind']}", f"zone {t['zone']}"):
            groups.setdefault(g, []).append(t)
    for g, ts in sorted(groups.items()):
        print(f"  {g:22s} {len(ts):4d} tumours  responded {sum(t['peak'] >= 0.5 for t in ts) / len(ts):.2f}  "
              f"median share {np.median([t['share'] for t in ts]):.2f}")


def main() -> None:
    training = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))["arms"]["T"]["tumours_ge10"]
    calibration = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))["arms"]["A"]["tumours_ge10"]
    table([t for t in training if t["case"].split("/")[1] not in VALIDATION], "training cases (51 phantoms)")
    table(calibration, "calibration phantoms (80, never trained on)")


if __name__ == "__main__":
    main()
