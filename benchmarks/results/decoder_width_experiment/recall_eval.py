"""Lower-zone crop evaluation for Experiment D (PLAN.md): per tumour voxel recall at p >= 0.10 and
peak probability, false findings (p >= 0.5 components >= 250 mm3 touching no tumour), voxel Dice at 0.5.

usage: python recall_eval.py CHECKPOINT.pt|PACKAGE FEATURE_SIZE CACHE_DIR ZONE OUT.json [best|final]
A checkpoint's best-validation weights by default; "final": its last step's weights.
"""
import json, os, sys, numpy as np, torch
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
from scipy import ndimage as ndi
from lungtumorseg.models.network import build_unetr
from lungtumorseg.training.prepare import ZoneCrop
from lungtumorseg.training.mining import tumour_probability
torch.set_num_threads(int(os.environ.get("THREADS", "1")))
src, feature, cache, zone, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], sys.argv[5]
card = json.load(open(ROOT / "LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom/model.json"))
if src.endswith(".pt"):
    net = build_unetr({**card["network"], "feature_size": feature})
    which = sys.argv[6] if len(sys.argv) > 6 else "best"
    net.load_state_dict(torch.load(src, map_location="cpu", weights_only=True)["best_state" if which == "best" else "model"])
else:
    from lungtumorseg.models.package import load_package
    net = load_package(src).load_network(zone, "cpu")
net.eval()
voxel_mm3 = 1.5 ** 3
tumours, false, inter, total = [], [], 0.0, 0.0
for f in sorted(cache.glob("lung_*.npz")):
    d = np.load(f)
    if "skipped" in d.files:
        continue
    crop = ZoneCrop(d[f"{zone}_image"], d[f"{zone}_label"], tuple(int(v) for v in d[f"{zone}_core"]))
    prob = tumour_probability(net, crop, (48,) * 3, "cpu")
    lo, hi = crop.core_z
    p, t = prob[lo:hi + 1], crop.label[lo:hi + 1] > 0
    hu = crop.image[0, lo:hi + 1].astype(np.float32) * 1500 - 1000
    inter += float(((p >= 0.5) & t).sum()); total += float((p >= 0.5).sum() + t.sum())
    comps, n = ndi.label(t)
    for c in range(1, n + 1):
        m = comps == c
        tumours.append({"case": f.stem, "voxels": int(m.sum()), "mean_hu": round(float(hu[m].mean()), 0),
                        "peak": round(float(p[m].max()), 4), "recall_010": round(float((p[m] >= 0.1).mean()), 4)})
    pc, k = ndi.label(p >= 0.5)
    for c in range(1, k + 1):
        m = pc == c
        if not (m & t).any() and m.sum() * voxel_mm3 >= 250:
            false.append({"case": f.stem, "volume_mm3": round(float(m.sum() * voxel_mm3))})
    print(f.stem, len(tumours), len(false), flush=True)
faint = [x["recall_010"] for x in tumours if x["mean_hu"] < -300 and x["voxels"] >= 8]
solid = [x["recall_010"] for x in tumours if x["mean_hu"] >= -300 and x["voxels"] >= 8]
summary = {"source": src, "zone": zone, "dice_at_0.5": 2 * inter / total, "false_findings": len(false),
           "faint_n": len(faint), "faint_mean_recall_010": float(np.mean(faint)),
           "solid_n": len(solid), "solid_mean_recall_010": float(np.mean(solid)),
           "responded_peak_0.5": sum(x["peak"] >= 0.5 for x in tumours), "tumours": len(tumours)}
json.dump({**summary, "per_tumour": tumours, "false": false}, open(out, "w"), indent=1)
print(json.dumps(summary))
