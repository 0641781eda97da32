"""The v2 decision of PLAN.md's addendum: the classifier at cut-off 0.489 against 0.9.0's card
limits on the fresh held-out phantoms (seeds 10100-10147), same maps, same candidates.

Usage: decide_v2.py FRESH_CAND_DIR OUT_JSON [OTHER_CAND_DIR ...]  (others: reported, not deciding)
"""
import json
import sys
from pathlib import Path

import numpy as np

import gate

CUTOFF = 0.4891751557588577

fresh, out = Path(sys.argv[1]), Path(sys.argv[2])
result = {"cutoff": CUTOFF}
for d in [fresh, *map(Path, sys.argv[3:])]:
    cases = gate.load([d])
    result[d.name] = {"card_limits_0.9.0": gate.counts(cases, [c.card for c in cases]),
                      "classifier": gate.counts(cases, [c.score >= CUTOFF for c in cases]),
                      "froc_card_limits_by_peak": gate.froc(cases, lambda c: np.where(c.card, c.peak, -1.0)),
                      "froc_classifier": gate.froc(cases, lambda c: c.score)}
b, k = result[fresh.name]["card_limits_0.9.0"], result[fresh.name]["classifier"]
no_worse = k["sens_ge10"] >= b["sens_ge10"] and k["fp_per_case"] <= b["fp_per_case"]
better = k["sens_ge10"] > b["sens_ge10"] or k["fp_per_case"] < b["fp_per_case"]
result["ships"] = bool(no_worse and better)
text = json.dumps(result, indent=1)
out.write_text(text + "\n")
print(text)
