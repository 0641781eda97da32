"""Per-tumour response of the shipped 0.6.0 on the 40 calibration phantoms, from cached probability maps.

usage: python middle_diag.py PHANTOM_DIR CACHE_DIR OUT.json
For every truth component: zone/location/kind from the phantom meta, diameter, mean HU, peak probability,
voxel recall at 0.10 and 0.5, and the share of its outer shell that is soft tissue (HU > -400):
a tumour whose surroundings are as dense as itself has no visible boundary there.
"""
import sys, json, glob, numpy as np, SimpleITK as sitk
from pathlib import Path
from scipy import ndimage as ndi
root, cache, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
rows = []
for img_path in sorted((root / "imagesTr").glob("*.nii.gz")):
    name = img_path.name.replace(".nii.gz", "")
    meta = json.load(open(root / "meta" / f"{name}.json"))
    if not meta["tumours"]:
        continue
    img = sitk.ReadImage(str(img_path))
    hu = sitk.GetArrayFromImage(img).astype(np.float32)
    lab = sitk.GetArrayFromImage(sitk.ReadImage(str(root / "labelsTr" / img_path.name))) > 0
    prob = np.load(glob.glob(str(cache / f"{name}-*.npy"))[0]).astype(np.float32)
    assert prob.shape == lab.shape, (name, prob.shape, lab.shape)
    comps, n = ndi.label(lab)
    for c in range(1, n + 1):
        m = comps == c
        idx = np.argwhere(m).mean(0)[::-1]
        centre = np.array(img.TransformContinuousIndexToPhysicalPoint(idx.tolist()))
        dists = [np.linalg.norm(centre - np.array(t["centre_lps_mm"])) for t in meta["tumours"]]
        t = meta["tumours"][int(np.argmin(dists))]
        shell = ndi.binary_dilation(m, iterations=2) & ~lab
        rows.append({"case": name, "zone": t["zone"], "location": t["location"], "kind": t["kind"],
                     "diameter_mm": t["diameter_mm"], "slice_mm": meta["slice_thickness_mm"],
                     "voxels": int(m.sum()), "mean_hu": float(hu[m].mean()),
                     "peak": float(prob[m].max()), "recall_010": float((prob[m] >= 0.10).mean()),
                     "recall_050": float((prob[m] >= 0.5).mean()),
                     "soft_contact": float((hu[shell] > -400).mean())})
    print(name, len(rows), flush=True)
json.dump(rows, open(out, "w"), indent=1)
