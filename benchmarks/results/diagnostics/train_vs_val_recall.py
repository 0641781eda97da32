"""Per-tumour voxel recall (p >= 0.10) of one shipped zone network on prepared crops of training or
validation cases: does the network under-segment the tumours it was trained on (underfitting) or only new ones?"""
import sys, json, numpy as np, torch
from pathlib import Path
sys.path.insert(0, "/work/main/LungTumorSeg")
from scipy import ndimage as ndi
from lungtumorseg.models.package import load_package
from lungtumorseg.training.prepare import ZoneCrop
from lungtumorseg.training.mining import tumour_probability
torch.set_num_threads(1)
pkg = load_package("/work/main/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom")
zone, which, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
cache = Path("/work/train/s10/blob2/run/cache-22ccf0d0e076")
card = json.load(open("/work/main/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom/model.json"))
val = card["training"]["validation_cases"]
names = val if which == "val" else [f.stem for f in sorted(cache.glob("lung_*.npz")) if f.stem not in val]
net = pkg.load_network(zone, "cpu"); net.eval()
rows = []
for name in names[:n]:
    d = np.load(cache / f"{name}.npz")
    if "skipped" in d.files:
        continue
    crop = ZoneCrop(d[f"{zone}_image"], d[f"{zone}_label"], tuple(int(v) for v in d[f"{zone}_core"]))
    lo, hi = crop.core_z
    if not (crop.label[lo:hi + 1] > 0).any():
        continue
    prob = tumour_probability(net, crop, (48,) * 3, "cpu")[lo:hi + 1]
    t = crop.label[lo:hi + 1] > 0
    hu = crop.image[0, lo:hi + 1].astype(np.float32) * 1500 - 1000
    comps, k = ndi.label(t)
    for c in range(1, k + 1):
        m = comps == c
        if m.sum() < 30:
            continue
        rows.append((name, int(m.sum()), float(hu[m].mean()), float(prob[m].max()), float((prob[m] >= 0.1).mean())))
        print(which, zone, *rows[-1], flush=True)
solid = [r for r in rows if r[2] > -300]; faint = [r for r in rows if r[2] <= -300]
for lab, sel in (("mean HU > -300", solid), ("mean HU <= -300", faint)):
    if sel:
        print(f"SUMMARY {which} {zone} {lab}: n {len(sel)} recall@0.1 mean {np.mean([r[4] for r in sel]):.2f} "
              f"voxel-weighted {sum(r[1]*r[4] for r in sel)/sum(r[1] for r in sel):.2f}")
