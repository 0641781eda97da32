"""Prototype: a size-adaptive reach (max(base, f * equivalent radius)) for outline growth, on the
calibration maps; compared with the shipped fixed 2 mm. Lesions = the card's operating point."""
import sys, json, glob, itertools, numpy as np, SimpleITK as sitk
from dataclasses import replace
from pathlib import Path
from scipy import ndimage as ndi
sys.path.insert(0, "/work/main/LungTumorSeg")
from lungtumorseg.outline import OutlineGrowth, grow_outlines
from lungtumorseg.postprocess import LesionFilter, label_lesions
root, cache = Path("/work/train/pp/gen40"), Path("/work/train/s10/calcache")
card = json.load(open("/work/main/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom/model.json"))["postprocessing"]
rule = LesionFilter.from_dict({k: v for k, v in card.items() if k != "outline_growth"})
settings = [("fixed2", -550, 0.0)] + [(f"f{f}_lo{lo}", lo, f) for lo, f in itertools.product((-550, -650), (0.2, 0.35, 0.5))]
dice = {s[0]: [] for s in settings}
for img_path in sorted((root / "imagesTr").glob("*.nii.gz")):
    name = img_path.name.replace(".nii.gz", "")
    img = sitk.ReadImage(str(img_path))
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(root / "labelsTr" / img_path.name))) > 0
    if not truth.any():
        continue
    f = glob.glob(str(cache / f"{name}-*.npy"))[0]
    prob = sitk.GetImageFromArray(np.load(f).astype(np.float32)); prob.CopyInformation(img)
    lung_z = tuple(json.load(open(f.replace(".npy", ".json")))["lung_z_lps_mm"])
    labels = label_lesions(prob, card["threshold"], rule, ct=img, lung_z_lps_mm=lung_z)
    lab = sitk.GetArrayFromImage(labels)
    voxel = float(np.prod(img.GetSpacing()))
    for key, lo, frac in settings:
        out = np.zeros_like(lab)
        for k in range(1, int(lab.max()) + 1):  # each lesion grown alone with its own reach (prototype: no contest)
            one = (lab == k).astype(np.uint16)
            r_eq = (3 * one.sum() * voxel / (4 * np.pi)) ** (1 / 3)
            reach = max(2.0, frac * r_eq)
            li = sitk.GetImageFromArray(one); li.CopyInformation(img)
            g = sitk.GetArrayFromImage(grow_outlines(li, img, OutlineGrowth(lo, 100.0, min(reach, 20.0)))) > 0
            out[g & (out == 0)] = k
        pred = out > 0
        dice[key].append(2 * (pred & truth).sum() / (pred.sum() + truth.sum()))
    print(name, {k: round(v[-1], 3) for k, v in dice.items()}, flush=True)
for k, v in dice.items():
    print(k, round(float(np.mean(v)), 4))
