"""Diagnosis for the next plan (not a gate, nothing is chosen or shipped from it): what if the
join came *after* the candidate classifier's judgement? Per calibration phantom, 0.11.0's final
lesions (as ``gate_join.py``'s baseline: the look, then the card's whole post-processing), then
each lesion joined with every component of the magnified map at the threshold that overlaps or
face-touches it. Detection cannot change except by two lesions meeting; what moves is how much
of each tumour the lesions cover and how much else they take in.

Usage: diagnosis_after.py OUT.json PACKAGE_0.10.0 ZOOMED_MAPS LOOK_CLASSIFIER DATA:CACHE [DATA:CACHE ...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))
sys.path.insert(0, str(HERE.parent / "zoom_tta"))
sys.path.insert(0, str(HERE.parent / "heldout48"))

from gate_join import Arms  # noqa: E402  (the gate's cases, post-processing and measures)


def join_after(lesions: np.ndarray, magnified: np.ndarray, threshold: float) -> np.ndarray:
    """``lesions`` (bool) joined with the magnified components at ``threshold`` touching them."""
    mlab, _ = ndi.label(magnified >= threshold)
    ids = np.unique(mlab[ndi.binary_dilation(lesions) & (mlab > 0)])
    return lesions | np.isin(mlab, ids[ids > 0])


def baseline_and_joined(pkg: Path, weights: str, maps: Path, pairs: list[str], joined: str) -> Arms:
    """0.11.0's final lesions ("baseline") and the same joined after the judgement (arm ``joined``),
    scored on every case of the ``DATA:CACHE`` pairs (a log line per case)."""
    arms = Arms(pkg, weights, ("baseline", joined))
    for looked in arms.cases(maps, pairs):
        base = arms.lesions(looked, looked.added.probability)
        line = [arms.score(arm, looked, pred)
                for arm, pred in (("baseline", base), (joined, join_after(base, looked.zoom, arms.threshold)))]
        print(f"{looked.name}: " + ", ".join(line), flush=True)
    return arms


def main() -> None:
    out = Path(sys.argv[1])
    arms = baseline_and_joined(Path(sys.argv[2]), sys.argv[4], Path(sys.argv[3]), sys.argv[5:], "after")
    result = {"cases": len(arms.rows["after"]), "summary": arms.summary(), "diagnosis_only": True,
              "note": "synthetic phantoms, not clinical accuracy"}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
