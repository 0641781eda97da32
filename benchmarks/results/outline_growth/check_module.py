"""The shipped implementation (lungtumorseg.outline via label_lesions) on the same calibration
maps as choose_parameters.py: mean Dice over tumour cases, pooled recall/precision, lesion counts
with and without growth (growth must not change them), seconds spent growing.

usage: python check_module.py PHANTOM_DIR CACHE_DIR MIN_HU MAX_HU DISTANCE_MM
"""
import sys, json, glob, time, numpy as np, SimpleITK as sitk
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "LungTumorSeg"))
from lungtumorseg.outline import OutlineGrowth
from lungtumorseg.postprocess import LesionFilter, label_lesions
root, cache = Path(sys.argv[1]), Path(sys.argv[2])
card = json.load(open(Path(__file__).resolve().parents[3] / "LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom/model.json"))["postprocessing"]
plain = LesionFilter.from_dict({k: v for k, v in card.items() if k != "outline_growth"})
grown = LesionFilter.from_dict({**card, "outline_growth": {"min_hu": float(sys.argv[3]), "max_hu": float(sys.argv[4]),
                                                           "max_distance_mm": float(sys.argv[5])}})
stats = {name: {"dice": [], "tp": 0, "fp": 0, "fn": 0, "lesions": 0, "seconds": 0.0} for name in ("plain", "grown")}
for img_path in sorted((root / "imagesTr").glob("*.nii.gz")):
    name = img_path.name.replace(".nii.gz", "")
    img = sitk.ReadImage(str(img_path))
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(root / "labelsTr" / img_path.name))) > 0
    f = glob.glob(str(cache / f"{name}-*.npy"))[0]
    prob = sitk.GetImageFromArray(np.load(f).astype(np.float32)); prob.CopyInformation(img)
    lung_z = tuple(json.load(open(f.replace(".npy", ".json")))["lung_z_lps_mm"])
    for key, rule in (("plain", plain), ("grown", grown)):
        t0 = time.perf_counter()
        lab = sitk.GetArrayFromImage(label_lesions(prob, card["threshold"], rule, ct=img, lung_z_lps_mm=lung_z))
        s = stats[key]; s["seconds"] += time.perf_counter() - t0
        pred = lab > 0; s["lesions"] += int(lab.max())
        tp, fp, fn = int((pred & truth).sum()), int((pred & ~truth).sum()), int((~pred & truth).sum())
        if truth.any():
            s["dice"].append(2 * tp / (2 * tp + fp + fn)); s["tp"] += tp; s["fp"] += fp; s["fn"] += fn
    print(name, stats["plain"]["lesions"], stats["grown"]["lesions"], flush=True)
for key, s in stats.items():
    print(key, f"mean Dice {np.mean(s['dice']):.4f} pooled recall {s['tp'] / (s['tp'] + s['fn']):.3f} "
               f"precision {s['tp'] / (s['tp'] + s['fp']):.3f} lesions {s['lesions']} label_lesions seconds {s['seconds']:.1f}")
