"""Diagnosis of the clinical-grid misses >= 10 mm: the candidate classifier's score of each tumour.

The four cases whose missed tumours had a network response were rerun with every candidate
kept and scored (the card's cut-off replaced by 0):

    lungtumorseg predict PHANTOM.nii.gz -o L.nii.gz --report misses/lung_NNN.json --candidate-cutoff 0 --threads 2

This script matches each phantom tumour (``meta/``) to the nearest reported lesion whose
centroid lies within its radius + 5 mm and prints the lesion's classifier score, peak
probability and volume; "no candidate" means no component of >= 30 mm3 at the threshold there.
Diagnosis only, on held-out phantoms: nothing is chosen from it. Synthetic phantoms, not
clinical accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MATCH_MARGIN_MM = 5.0


def tumour_candidates(report: dict, meta: dict) -> list[dict]:
    """One record per phantom tumour with its nearest reported lesion (or None)."""
    lesions = [(np.asarray(les["centroid_lps_mm"], dtype=float), les) for les in report["lesions"]]
    out = []
    for tumour in meta["tumours"]:
        centre = np.asarray(tumour["centre_lps_mm"], dtype=float)
        reach = tumour["diameter_mm"] / 2 + MATCH_MARGIN_MM
        near = sorted(((float(np.linalg.norm(c - centre)), les) for c, les in lesions), key=lambda pair: pair[0])
        hit = near[0][1] if near and near[0][0] <= reach else None
        out.append({"kind": tumour["kind"], "diameter_mm": round(tumour["diameter_mm"], 1), "zone": tumour["zone"],
                    "location": tumour["location"],
                    "candidate_score": None if hit is None else round(hit["candidate_score"], 3),
                    "peak_probability": None if hit is None else round(hit["peak_probability"], 3),
                    "volume_ml": None if hit is None else round(hit["volume_ml"], 2)})
    return out


def main() -> None:
    summary = {}
    for path in sorted((HERE / "misses").glob("lung_*.json")):
        report = json.loads(path.read_text())
        meta = json.loads((HERE / "meta" / path.name).read_text())
        summary[path.stem] = tumour_candidates(report, meta)
        print(path.stem)
        for record in summary[path.stem]:
            found = ("no candidate" if record["candidate_score"] is None else
                     f"score {record['candidate_score']}, peak {record['peak_probability']}, {record['volume_ml']} mL")
            print(f"  {record['kind']:12s} {record['diameter_mm']:5.1f} mm {record['zone']:6s} {found}")
    (HERE / "misses.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
