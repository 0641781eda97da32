"""Crop-space evaluation of one zone network on prepared calibration crops.

usage: python benchmarks/results/grid_experiment/zone_eval.py CHECKPOINT_OR_PACKAGE CACHE_DIR ROI SPACING ZONE OUT.json
Per truth component inside the zone core: equivalent diameter, mean HU, peak probability.
False findings: components of p >= 0.5 in the core that touch no tumour, >= 250 mm3.
"""
import sys, json, numpy as np, torch
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
from scipy import ndimage as ndi
from lungtumorseg.models.network import build_unetr
from lungtumorseg.training.prepare import ZoneCrop
from lungtumorseg.training.mining import tumour_probability
torch.set_num_threads(int(__import__("os").environ.get("THREADS", "2")))
src, cache, roi, spacing, zone, out = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
card = json.load(open(ROOT / "LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom/model.json"))
network = {**card["network"], "img_size": [roi] * 3}
net = build_unetr(network)
if src.endswith(".pt"):
    net.load_state_dict(torch.load(src, map_location="cpu", weights_only=True)["best_state"])
else:
    from lungtumorseg.models.package import load_package
    net = load_package(src).load_network(zone, "cpu")
net.eval()
voxel_mm3 = spacing ** 3
tumours, false, inter, total = [], [], 0.0, 0.0
for f in sorted(cache.glob("lung_*.npz")):
    d = np.load(f)
    if "skipped" in d:
        continue
    crop = ZoneCrop(d[f"{zone}_image"], d[f"{zone}_label"], tuple(int(v) for v in d[f"{zone}_core"]))
    prob = tumour_probability(net, crop, (roi,) * 3, "cpu")
    lo, hi = crop.core_z
    p, t = prob[lo:hi + 1], crop.label[lo:hi + 1] > 0
    hu = crop.image[0, lo:hi + 1].astype(np.float32) * 1500 - 1000
    inter += float(((p >= 0.5) & t).sum()); total += float((p >= 0.5).sum() + t.sum())
    comps, n = ndi.label(t)
    for c in range(1, n + 1):
        m = comps == c
        vol = m.sum() * voxel_mm3
        tumours.append({"case": f.stem, "diameter_mm": round(float((6 * vol / np.pi) ** (1 / 3)), 1),
                        "mean_hu": round(float(hu[m].mean()), 0), "peak": round(float(p[m].max()), 4)})
    pc, k = ndi.label(p >= 0.5)
    for c in range(1, k + 1):
        m = pc == c
        if not (m & t).any() and m.sum() * voxel_mm3 >= 250:
            false.append({"case": f.stem, "volume_mm3": round(float(m.sum() * voxel_mm3)), "peak": round(float(p[m].max()), 3)})
    print(f.stem, len(tumours), len(false), flush=True)
json.dump({"source": src, "zone": zone, "spacing": spacing, "roi": roi, "dice_at_0.5": 2 * inter / total,
           "tumours": tumours, "false": false}, open(out, "w"), indent=1)
print("dice", 2 * inter / total, "false", len(false))
