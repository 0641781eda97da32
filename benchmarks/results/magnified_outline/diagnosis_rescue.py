"""Diagnosis for a next plan (not a gate; nothing is chosen or shipped from it): can the magnified
look rescue normal candidates the candidate classifier rejects? Most of 0.11.0's misses >= 10 mm
are ground-glass tumours whose normal-map candidate covers a small part of them and is rejected
(heldout48/misses.json). Here each rejected candidate (not holding a point the look confirmed)
is joined with the magnified components touching it, and the look's own classifier scores that
joined candidate with the magnified map as its probability channel. Arms: 0.12.0 (0.11.0's
final lesions joined after the judgement) and, for each look cut-off, 0.12.0 plus the rescued
joined candidates as lesions.

Usage: diagnosis_rescue.py OUT.json PACKAGE_0.10.0 ZOOMED_MAPS LOOK_CLASSIFIER DATA:CACHE [DATA:CACHE ...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from diagnosis_after import join_after  # noqa: E402
from gate import as_image  # noqa: E402  (zoom_tta's helper, on the path through gate_join)
from gate_join import Arms  # noqa: E402
from lungtumorseg.magnify import labels_holding  # noqa: E402

CUTOFFS = (0.5, 0.8, 0.9, 0.94)


def rescued(arms: Arms, looked, threshold: float) -> list[tuple[np.ndarray, float]]:
    """Each rejected normal candidate joined with the magnified components touching it, with the
    look classifier's score of that joined candidate (candidates the look does not touch: none)."""
    image = looked.image
    merged = looked.added.probability
    voxel_mm3 = float(np.prod(image.GetSpacing()))
    lab, n = ndi.label(merged >= threshold)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    small = np.flatnonzero(sizes < np.ceil(arms.rule.min_lesion_mm3 / voxel_mm3))
    lab[np.isin(lab, small)] = 0
    labels = as_image(lab.astype(np.uint32), image)
    scores = arms.check.scores(labels, image, as_image(merged, image))
    confirmed = labels_holding(labels, looked.added.points)
    mlab, _ = ndi.label(looked.zoom >= threshold)
    out = []
    for value, score in scores.items():
        if score >= arms.check.cutoff or value in confirmed:
            continue
        candidate = lab == value
        touching = np.unique(mlab[ndi.binary_dilation(candidate) & (mlab > 0)])
        if not len(touching):
            continue
        joined = candidate | np.isin(mlab, touching)
        look = arms.look_check.scores(as_image(joined.astype(np.uint32), image), image, as_image(looked.zoom, image))
        out.append((joined, float(look[1])))
    return out


def main() -> None:
    out, pkg, maps, weights = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    arms = Arms(pkg, weights, ("0.12.0",) + tuple(f"rescue>={c:g}" for c in CUTOFFS))
    looked_scores = []
    for looked in arms.cases(maps, sys.argv[5:]):
        base = join_after(arms.lesions(looked, looked.added.probability), looked.zoom, arms.threshold)
        rescues = rescued(arms, looked, arms.threshold)
        looked_scores += [round(s, 3) for _, s in rescues]
        line = [arms.score("0.12.0", looked, base)]
        for c in CUTOFFS:
            pred = base.copy()
            for joined, score in rescues:
                if score >= c:
                    pred |= joined
            line.append(arms.score(f"rescue>={c:g}", looked, pred))
        print(f"{looked.name}: rejected with a magnified touch {len(rescues)}; " + ", ".join(line), flush=True)
    result = {"cases": len(arms.rows["0.12.0"]), "summary": arms.summary(), "look_scores": sorted(looked_scores),
              "diagnosis_only": True, "note": "synthetic phantoms, not clinical accuracy"}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "look_scores"}, indent=1))


if __name__ == "__main__":
    main()
