"""Prototype: density-guided outline growth of kept lesions, on cached 0.6.0 probability maps.

usage: python grow_proto.py PHANTOM_DIR CACHE_DIR OUT.json
Lesions = the card's operating point (threshold, filters, zone limits). Each lesion then grows
through face-connected voxels whose HU lies in [lo, hi] and that are at most D mm from it.
Per tumour case: Dice; per setting: mean Dice, pooled recall/precision.
"""
import sys, json, glob, itertools, numpy as np, SimpleITK as sitk
from pathlib import Path
from scipy import ndimage as ndi
sys.path.insert(0, "/work/main/LungTumorSeg")
from lungtumorseg.postprocess import LesionFilter, label_lesions
root, cache, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
card = json.load(open("/work/main/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom/model.json"))["postprocessing"]
rule = LesionFilter.from_dict(card)
settings = [(None, None, 0.0)] + list(itertools.product([-750, -650, -550], [-100, 100], [2.0, 4.0, 8.0]))
res = {str(s): {"dice": [], "tp": 0, "fp": 0, "fn": 0, "fp_free": 0} for s in settings}
for img_path in sorted((root / "imagesTr").glob("*.nii.gz")):
    name = img_path.name.replace(".nii.gz", "")
    img = sitk.ReadImage(str(img_path))
    hu = sitk.GetArrayFromImage(img).astype(np.float32)
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(root / "labelsTr" / img_path.name))) > 0
    f = glob.glob(str(cache / f"{name}-*.npy"))[0]
    prob_a = np.load(f).astype(np.float32)
    lung_z = tuple(json.load(open(f.replace(".npy", ".json")))["lung_z_lps_mm"])
    prob = sitk.GetImageFromArray(prob_a); prob.CopyInformation(img)
    lab = sitk.GetArrayFromImage(label_lesions(prob, card["threshold"], rule, ct=img, lung_z_lps_mm=lung_z)) > 0
    sp = img.GetSpacing()[::-1]
    dist = ndi.distance_transform_edt(~lab, sampling=sp) if lab.any() else None
    for s in settings:
        lo, hi, d = s
        pred = lab
        if lab.any() and d > 0:
            allowed = (hu >= lo) & (hu <= hi) & (dist <= d)
            n_iter = int(np.ceil(d / min(sp)))
            pred = ndi.binary_dilation(lab, iterations=n_iter, mask=allowed | lab) | lab
        r = res[str(s)]
        tp, fp, fn = int((pred & truth).sum()), int((pred & ~truth).sum()), int((~pred & truth).sum())
        if truth.any():
            r["dice"].append(2 * tp / (2 * tp + fp + fn)); r["tp"] += tp; r["fp"] += fp; r["fn"] += fn
        else:
            r["fp_free"] += fp
    print(name, f"{res[str(settings[0])]['dice'][-1] if truth.any() else 'free'}", flush=True)
summary = []
for s in settings:
    r = res[str(s)]
    summary.append({"lo": s[0], "hi": s[1], "d_mm": s[2], "mean_dice": float(np.mean(r["dice"])),
                    "recall": r["tp"] / (r["tp"] + r["fn"]), "precision": r["tp"] / (r["tp"] + r["fp"]),
                    "fp_voxels_tumour_free": r["fp_free"]})
json.dump({"summary": summary, "per_case": {k: v["dice"] for k, v in res.items()}}, open(out, "w"), indent=1)
for x in sorted(summary, key=lambda x: -x["mean_dice"]):
    print(x)
