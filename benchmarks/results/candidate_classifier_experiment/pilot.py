"""Pilot on mining phantoms only (PLAN.md): train on TRAIN_DIR, rank LOOK_DIR's candidates."""
import sys
from pathlib import Path

import numpy as np
import torch

import classifier
import gate

train_dir, look_dir, weights = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
torch.set_num_threads(2)
classifier.train(train_dir, weights)
classifier.score(weights, [look_dir])
cases = gate.load([look_dir])
print("card limits        ", gate.counts(cases, [c.card for c in cases]))
print("FROC card (peak)   ", gate.froc(cases, lambda c: np.where(c.card, c.peak, -1.0)))
print("FROC classifier    ", gate.froc(cases, lambda c: c.score))
print("FROC peak, all cand", gate.froc(cases, lambda c: c.peak))
for t in (0.3, 0.5, 0.7, 0.9):
    print("classifier >=", t, gate.counts(cases, [c.score >= t for c in cases]))
