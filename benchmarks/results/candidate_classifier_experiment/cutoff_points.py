"""What each candidate cut-off buys on the 80 calibration phantoms (seeds 160-239): sensitivity
for tumours >= 10 mm, false positives per case and tumour-free phantoms clean, for the shipped
package's classifier, counted on thresholded components as in this experiment. Written to the
card as ``metrics.candidate_cutoff_calibration`` so the Slicer "Candidate cut-off" slider can
say what moving it does (session 27).

Usage: cutoff_points.py PACKAGE CAL_DIR [CAL_DIR ...] [--write-card]
(CAL_DIR: ``extract.py`` candidates of the calibration phantoms from the package's maps)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "classifier_more_data"))

import compare  # noqa: E402  (scores with eight flips, cached beside the candidates)

CUTOFFS = (0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("package", type=Path)
    ap.add_argument("cal", nargs="+", type=Path)
    ap.add_argument("--write-card", action="store_true")
    a = ap.parse_args()
    card_path = a.package / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card_cutoff = float(card["candidate_check"]["cutoff"])
    cases = compare.load_cases(a.cal, a.package / "candidate_check.safetensors", "shipped")
    points = []
    for cutoff in sorted({*CUTOFFS, card_cutoff}):
        c = compare.at(cases, cutoff)
        points.append({"cutoff": round(cutoff, 4), "sensitivity_ge10mm": round(c["sens_ge10"], 3),
                       "found_ge10mm": c["found_ge10"], "tumours_ge10mm": c["n_ge10"],
                       "false_positives_per_case": round(c["fp_per_case"], 3),
                       "tumour_free_clean": c["clean"], "tumour_free": c["tumour_free"], "card": cutoff == card_cutoff})
        print(points[-1])
    result = {"phantoms": f"{len(cases)} calibration phantoms (seeds 160-239), never used in training",
              "counting": "components of the probability map at the card threshold, judged by the classifier "
                          "(no outline growth); a pipeline benchmark may differ by a tumour",
              "points": points,
              "note": "synthetic phantoms, not clinical accuracy; benchmarks/results/candidate_classifier_experiment/"
                      "cutoff_points.py"}
    if a.write_card:
        card["metrics"]["candidate_cutoff_calibration"] = result
        card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        print("wrote", card_path)


if __name__ == "__main__":
    main()
