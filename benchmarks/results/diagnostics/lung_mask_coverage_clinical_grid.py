"""Session 41 diagnosis: how much of each tumour the classical lung mask (the networks' lung
channel) covers, against the networks' peak response in it, on the 40 full-size calibration
phantoms (seeds 160-199) and the normal maps of demo 0.12.0's networks that session 40 kept
(``../classifier_clinical_grid/maps.py``). The mask is found as the pipeline finds it (1.5 mm
canonical grid); the map is resampled onto that grid. Tumours are matched to the phantom's
meta by their centre.

Usage: lung_mask_coverage_clinical_grid.py SET...   (SET: cal1, cal2 under /work/train/s40)
Writes lung_mask_coverage_<sets>.json in /work/train/s41.
"""
import sys, json, glob
from pathlib import Path
import numpy as np, SimpleITK as sitk
from scipy import ndimage as ndi
sys.path.insert(0, "/work/main/LungTumorSeg")
from lungtumorseg.preprocess import to_canonical
from lungtumorseg.lungs import find_lungs
rows = []
for s in sys.argv[1:]:
    d = Path("/work/train/s40") / s
    for img in sorted((d / "imagesTr").glob("*.nii.gz")):
        name = img.name.replace(".nii.gz", "")
        meta = json.load(open(d / "meta" / f"{name}.json"))
        if not meta["tumours"]:
            continue
        image = sitk.ReadImage(str(img))
        can = to_canonical(image, (1.5, 1.5, 1.5))
        lungs = find_lungs(sitk.GetArrayFromImage(can), (1.5, 1.5, 1.5))
        lab = sitk.ReadImage(str(d / "labelsTr" / img.name))
        labc = sitk.GetArrayFromImage(sitk.Resample(lab, can, sitk.Transform(), sitk.sitkNearestNeighbor, 0))
        m = glob.glob(f"/work/train/s40/maps/{s}/{name}-*-nolook.npy")
        p = sitk.GetImageFromArray(np.load(m[0]).astype(np.float32)); p.CopyInformation(image)
        prob = sitk.GetArrayFromImage(sitk.Resample(p, can, sitk.Transform(), sitk.sitkLinear, 0.0))
        comp, n = ndi.label(labc > 0)
        for t in meta["tumours"]:
            idx = can.TransformPhysicalPointToIndex(t["centre_lps_mm"])[::-1]
            k = comp[idx] if all(0 <= i < sh for i, sh in zip(idx, comp.shape)) else 0
            if k == 0:
                continue
            inside = comp == k
            ring = ndi.binary_dilation(inside, iterations=2) & ~inside
            rows.append(dict(set=s, case=name, kind=t["kind"], loc=t["location"], zone=t["zone"], d=t["diameter_mm"],
                             lungfrac=round(float(lungs.mask[inside].mean()), 3), ringlung=round(float(lungs.mask[ring].mean()), 3),
                             peak=round(float(prob[inside].max()), 3)))
            print(rows[-1], flush=True)
json.dump(rows, open(f"/work/train/s41/lung_mask_coverage_{'_'.join(sys.argv[1:])}.json", "w"), indent=0)
