"""Preview on an already-used set, decides nothing (RESULTS.md): arms A (candidates at 0.45) and S
(at 0.2) on session 40's 48 fresh full-size phantoms (seeds 10504-10551) at several cut-offs of
the shipped classifier.

Usage: preview.py CAND_AT_0.45 CAND_AT_0.2   (folders of ../classifier_clinical_grid/extract.py)
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "classifier_more_data"))
import compare  # noqa: E402

WEIGHTS = HERE.parents[2] / "LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom/candidate_check.safetensors"


def main() -> None:
    torch.set_num_threads(1)
    for name, folder in (("A", sys.argv[1]), ("S", sys.argv[2])):
        cases = compare.load_cases([Path(folder)], WEIGHTS, "A")
        for cutoff in (0.091, 0.138, 0.2, 0.3, 0.4, 0.489):
            r = compare.at(cases, cutoff)
            print(name, cutoff, f"{r['found_ge10']}/{r['n_ge10']} >= 10 mm, {r['fp']} FP, "
                  f"clean {r['clean']}/{r['tumour_free']}, all {r['found']}")


if __name__ == "__main__":
    main()
