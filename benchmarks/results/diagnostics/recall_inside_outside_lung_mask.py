"""Voxel recall of the shipped package inside vs outside the classical lung mask, per tumour."""
import sys, json, subprocess, numpy as np, SimpleITK as sitk
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3] / "LungTumorSeg"))
from pathlib import Path
from scipy import ndimage as ndi
from lungtumorseg.preprocess import to_canonical
from lungtumorseg.lungs import find_lungs
root = Path(sys.argv[1]); out = Path(sys.argv[2]); out.mkdir(exist_ok=True, parents=True)
tot = np.zeros(4)
for img_path in sorted((root / "imagesTr").glob("*.nii.gz")):
    name = img_path.name.replace(".nii.gz", "")
    meta = json.load(open(root / "meta" / f"{name}.json"))
    if not meta["tumours"]:
        continue
    pred_path = out / f"{name}.nii.gz"
    if not pred_path.exists():
        subprocess.run(["lungtumorseg", "predict", str(img_path), "-o", str(pred_path)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    img = sitk.ReadImage(str(img_path))
    lab = sitk.GetArrayFromImage(sitk.ReadImage(str(root / "labelsTr" / img_path.name))) > 0
    pred = sitk.GetArrayFromImage(sitk.ReadImage(str(pred_path))) > 0
    can = to_canonical(img, (1.5, 1.5, 1.5))
    lungs_c = find_lungs(sitk.GetArrayFromImage(can), (1.5, 1.5, 1.5)).labels
    lm = sitk.GetImageFromArray(lungs_c); lm.CopyInformation(can)
    lungs = sitk.GetArrayFromImage(sitk.Resample(lm, img, sitk.Transform(), sitk.sitkNearestNeighbor, 0)) > 0
    comps, n = ndi.label(lab)
    for c in range(1, n + 1):
        m = comps == c
        a, b = m & lungs, m & ~lungs
        r_in = (pred & a).sum() / max(a.sum(), 1); r_out = (pred & b).sum() / max(b.sum(), 1)
        tot += [(pred & a).sum(), a.sum(), (pred & b).sum(), b.sum()]
        print(name, c, int(m.sum()), f"in {a.sum()/m.sum():.2f}", f"recall_in {r_in:.2f} recall_out {r_out:.2f}", flush=True)
print("pooled recall inside", tot[0] / tot[1], "outside", tot[2] / tot[3], "outside share of truth", tot[3] / (tot[1] + tot[3]))
