"""Where are the labelled voxels the shipped model gives p < 0.10? HU of missed vs found tumour voxels,
and missed voxels' distance to the tumour's surface (inner voxels vs rim)."""
import sys, json, glob, numpy as np, SimpleITK as sitk
from pathlib import Path
from scipy import ndimage as ndi
root, cache = Path(sys.argv[1]), Path(sys.argv[2])
tot = {"miss_hu": [], "hit_hu": [], "miss_depth": [], "hit_depth": []}
for img_path in sorted((root / "imagesTr").glob("*.nii.gz")):
    name = img_path.name.replace(".nii.gz", "")
    meta = json.load(open(root / "meta" / f"{name}.json"))
    if not meta["tumours"]:
        continue
    img = sitk.ReadImage(str(img_path)); sp = img.GetSpacing()[::-1]
    hu = sitk.GetArrayFromImage(img).astype(np.float32)
    lab = sitk.GetArrayFromImage(sitk.ReadImage(str(root / "labelsTr" / img_path.name))) > 0
    prob = np.load(glob.glob(str(cache / f"{name}-*.npy"))[0]).astype(np.float32)
    depth = ndi.distance_transform_edt(lab, sampling=sp)
    comps, n = ndi.label(lab)
    for c in range(1, n + 1):
        m = comps == c
        if prob[m].max() < 0.5 or m.sum() < 50:
            continue  # only tumours the network saw
        miss, hit = m & (prob < 0.1), m & (prob >= 0.1)
        tot["miss_hu"] += hu[miss].tolist(); tot["hit_hu"] += hu[hit].tolist()
        tot["miss_depth"] += depth[miss].tolist(); tot["hit_depth"] += depth[hit].tolist()
        print(f"{name} c{c} vox {m.sum():5d} sp {sp[0]:.1f} miss {miss.sum()/m.sum():.2f} HU miss med {np.median(hu[miss]) if miss.any() else np.nan:6.0f} hit med {np.median(hu[hit]):6.0f}  depth miss med {np.median(depth[miss]) if miss.any() else np.nan:4.1f} hit {np.median(depth[hit]):4.1f} mm", flush=True)
for k in ("miss_hu", "hit_hu", "miss_depth", "hit_depth"):
    v = np.array(tot[k]); print(k, len(v), "percentiles 10/25/50/75/90", np.percentile(v, [10, 25, 50, 75, 90]).round(1))
