"""Arms B and C of PLAN.md: the shipped recipe on clinical-grid mining candidates.

Uses ``../candidate_classifier_experiment/classifier.py``'s network, data loading and training
loop unchanged; only its epochs and maximum learning rate are set, and for a fine-tune (C) the
network starts from the given weights.

Usage: train.py CAND_DIR OUT.safetensors [--init WEIGHTS] [--epochs N] [--lr LR]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "candidate_classifier_experiment"))
import classifier  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cand", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--init", type=Path)
    ap.add_argument("--epochs", type=int, default=classifier.EPOCHS)
    ap.add_argument("--lr", type=float, default=classifier.LR)
    a = ap.parse_args()
    torch.set_num_threads(2)
    classifier.EPOCHS, classifier.LR = a.epochs, a.lr
    if a.init:
        fresh = classifier.network

        def started() -> torch.nn.Module:
            net = fresh()
            net.load_state_dict(load_file(str(a.init)))
            return net

        classifier.network = started
    print(f"epochs {a.epochs}, max lr {a.lr}, init {a.init}", flush=True)
    classifier.train(a.cand, a.out)


if __name__ == "__main__":
    main()
