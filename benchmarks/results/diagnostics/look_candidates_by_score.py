"""Diagnosis (both used sets): the magnified look's own candidates by score and what they touch.

Session 33 scratch script, kept as the record; paths are that session's (benchmarks/results/half_maximum/commands.sh)."""
import sys, json
from pathlib import Path
sys.path.insert(0, "/work/main/LungTumorSeg"); sys.path.insert(0, "/work/main/benchmarks/results/magnified_outline")
sys.path.insert(0, "/work/main/benchmarks/results/zoom_tta"); sys.path.insert(0, "/work/main/benchmarks/results/heldout48")
import numpy as np
from scipy import ndimage as ndi
from gate_join import Arms
from lungtumorseg.evaluation.lesions import equivalent_diameter_mm, label_components
rows = []
arms = Arms(Path("/work/train/s32/pkg0100/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom"),
            "/work/main/benchmarks/results/zoom_tta/look_classifier.safetensors", ("x",))
for maps, pair in (("/work/train/s32/zoommaps15", "/work/main/benchmarks/.cache/heldout-small-10300-48:/work/train/s32/fresh4cache"),
                   ("/work/train/s33/zoommaps15", "/work/main/benchmarks/.cache/heldout-small-10400-32:/work/train/s33/fresh5cache")):
    for looked in arms.cases(Path(maps), [pair]):
        t, n = label_components(looked.truth); vmm = float(np.prod(looked.image.GetSpacing()))
        diam = {i: float(equivalent_diameter_mm((t == i).sum() * vmm)) for i in range(1, n + 1)}
        cand = looked.added.candidates
        for c, s in looked.added.scores.items():
            m = ndi.binary_dilation(cand == c)
            hit = [int(v) for v in np.unique(t[m]) if v]
            rows.append({"case": looked.name, "score": round(float(s), 4),
                         "touches_d": max((diam[h] for h in hit), default=None)})
bins = []
for lo, hi in ((0.94, 1.01), (0.8, 0.94), (0.5, 0.8), (0.2, 0.5), (0.0, 0.2)):
    sel = [r for r in rows if lo <= r["score"] < hi]
    small = sum(r["touches_d"] is not None and r["touches_d"] < 10 for r in sel)
    large = sum(r["touches_d"] is not None and r["touches_d"] >= 10 for r in sel)
    bins.append({"score_from": lo, "score_below": hi, "candidates": len(sel), "touching_tumour_lt_10mm": small,
                 "touching_tumour_ge_10mm": large, "touching_no_tumour": len(sel) - small - large})
    print(bins[-1])
Path(__file__).with_suffix(".json").write_text(json.dumps(
    {"phantoms": "seeds 10300-10347 and 10400-10431 (80, both used for decisions)",
     "candidates": "magnified-only candidates of 0.12.0's look (touching nothing of the normal map at 0.45, >= 30 mm3), "
                   "scored by the look's classifier; touching = the candidate dilated by one voxel overlaps the tumour",
     "bins": bins, "note": "synthetic phantoms, not clinical accuracy"}, indent=1) + "\n")
