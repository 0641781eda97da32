"""Summarise zone_eval.py outputs side by side: tumours reaching peak probability 0.5, by
equivalent diameter and density, false findings, voxel Dice.

usage: python compare.py NAME=RESULT.json [NAME=RESULT.json ...]
"""
import json
import sys

GROUPS = [
    ("< 10 mm", lambda t: t["diameter_mm"] < 10),
    ("10-20 mm", lambda t: 10 <= t["diameter_mm"] < 20),
    (">= 20 mm", lambda t: t["diameter_mm"] >= 20),
    ("< 20 mm, faint (mean < -300 HU)", lambda t: t["diameter_mm"] < 20 and t["mean_hu"] < -300),
    ("< 20 mm, dense", lambda t: t["diameter_mm"] < 20 and t["mean_hu"] >= -300),
    (">= 20 mm, faint", lambda t: t["diameter_mm"] >= 20 and t["mean_hu"] < -300),
    ("all", lambda t: True),
]
runs = [(arg.split("=", 1)[0], json.load(open(arg.split("=", 1)[1]))) for arg in sys.argv[1:]]
print("| tumours (peak >= 0.5 / total) | " + " | ".join(name for name, _ in runs) + " |")
print("|---" * (len(runs) + 1) + "|")
for label, keep in GROUPS:
    cells = []
    for _, r in runs:
        sel = [t for t in r["tumours"] if keep(t)]
        cells.append(f"{sum(t['peak'] >= 0.5 for t in sel)} / {len(sel)}")
    print(f"| {label} | " + " | ".join(cells) + " |")
print("| false findings (p >= 0.5, >= 250 mm³, touching no tumour) | " + " | ".join(str(len(r["false"])) for _, r in runs) + " |")
print("| voxel Dice at p >= 0.5 (zone cores) | " + " | ".join(f"{r['dice_at_0.5']:.3f}" for _, r in runs) + " |")
