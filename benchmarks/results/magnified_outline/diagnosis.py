#!/usr/bin/env python3
# Usage: diagnosis.py DATA CACHE ZOOMED_MAPS PREFIX OUT.json  (session 30: calibration set 1, diagnosis only)
"""Diagnosis: would taking the magnified map's response inside/around the normal map's components
cover more of each tumour? Per case of calibration set 1: normal components at 0.45 that touch a
truth tumour (a stand-in for the kept true lesions), and the same components joined with every
magnified component at 0.45 touching them. Voxel Dice of each against truth (tumour cases)."""
import json, sys
from pathlib import Path
import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi
T = 0.45
data, cache, maps, prefix = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
rows = []
for img in sorted((data / "labelsTr").glob("*.nii.gz")):
    name = img.name[:-7]
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(img))) > 0
    if not truth.any():
        continue
    found = sorted(cache.glob(f"{name}-*-m.npy"))  # the 0.10.0 maps: keys without a look end in -m
    if len(found) != 1:
        raise SystemExit(f"{name}: expected one 0.10.0 map in {cache}, found {len(found)}")
    normal = np.load(found[0]).astype(np.float32) >= T
    mag = np.load(maps / f"{prefix}-{name}.npy").astype(np.float32) >= T
    nlab, _ = ndi.label(normal)
    keep_ids = np.unique(nlab[truth & normal]); keep_ids = keep_ids[keep_ids > 0]
    kept = np.isin(nlab, keep_ids)
    mlab, _ = ndi.label(mag)
    grown = ndi.binary_dilation(kept, iterations=1)
    mids = np.unique(mlab[grown & mag]); mids = mids[mids > 0]
    union = kept | np.isin(mlab, mids)
    ct = sitk.GetArrayFromImage(sitk.ReadImage(str(data / "imagesTr" / img.name)))
    def dice(p):
        return 2 * (p & truth).sum() / (p.sum() + truth.sum())
    rows.append({"case": name, "dice_kept": dice(kept), "dice_union": dice(union),
                 "recall_kept": (kept & truth).sum() / truth.sum(), "recall_union": (union & truth).sum() / truth.sum(),
                 "added": int((union & ~kept).sum()), "added_true": int((union & ~kept & truth).sum()),
                 "added_hu_median": float(np.median(ct[union & ~kept & ~truth])) if (union & ~kept & ~truth).any() else None})
    r = rows[-1]
    print(f"{name}: Dice {r['dice_kept']:.3f} -> {r['dice_union']:.3f}, recall {r['recall_kept']:.2f} -> {r['recall_union']:.2f}, "
          f"added {r['added']} ({r['added_true']} true)", flush=True)
print(f"mean Dice {np.mean([r['dice_kept'] for r in rows]):.4f} -> {np.mean([r['dice_union'] for r in rows]):.4f} over {len(rows)} tumour cases")
json.dump(rows, open(sys.argv[5], "w"), indent=1)
