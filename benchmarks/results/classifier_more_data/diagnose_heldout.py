"""Diagnosis only (PLAN.md's gate failed, nothing is decided here): both classifiers at their
calibration rule cut-offs on the card's 48 held-out phantoms (seeds 10000-10047, a set used
for comparisons before). The fresh set of seeds 10200-10247 is not touched.

Usage: diagnose_heldout.py OLD NEW GATE_JSON HELD_CAND_DIR OUT_JSON
"""
import json
import sys
from pathlib import Path

import compare

old, new, gate, held, out = (Path(a) for a in sys.argv[1:6])
cutoffs = json.loads(gate.read_text())
result = {}
for name, weights, tag in (("0.10.0", old, "old"), ("retrained", new, "new")):
    cases = compare.load_cases([held], weights, tag)
    result[name] = compare.summary(cases, cutoffs[f"calibration {name}"]["cutoff"])
out.write_text(json.dumps(result, indent=1) + "\n")
for name, r in result.items():
    a = r["at_cutoff"]
    print(name, f"{a['found_ge10']}/{a['n_ge10']} >= 10 mm, {a['fp']} FP, clean {a['clean']}/{a['tumour_free']}, "
          f"FROC mean {r['froc']['mean']:.3f}")
