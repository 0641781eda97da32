import sys, json, numpy as np, SimpleITK as sitk
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3] / "LungTumorSeg"))
from pathlib import Path
from lungtumorseg.evaluation.calibration import case_curve, summarise_curves
from lungtumorseg.postprocess import LesionFilter
T = [0.03, 0.05, 0.07, 0.10, 0.15]
F = [LesionFilter(250.0, 0.6, 1.75, 150.0), LesionFilter(250.0, 0.6, 2.5, 150.0), LesionFilter(250.0, 0.6, float("inf"), 150.0)]
root, cache = Path(sys.argv[1]), Path(sys.argv[2])  # calibration phantoms; calibrate_threshold.py --cache maps of 0.6.0
curves = []
for img in sorted((root / "imagesTr").glob("*.nii.gz")):
    name = img.name[:-7]
    image = sitk.ReadImage(str(img)); truth = sitk.GetArrayFromImage(sitk.ReadImage(str(root / "labelsTr" / img.name))) > 0
    prob = np.load(cache / f"{name}-282a7e74f1b2d4e2aa-v0.5.0-m.npy").astype(np.float32)
    curves.append(case_curve(prob, truth, image.GetSpacing(), T, F, hu=sitk.GetArrayFromImage(image)))
s = summarise_curves(curves)
for b, f in enumerate(F):
    for a, t in enumerate(T):
        print(f"elong<={f.max_elongation} t={t:.2f} dice {s['mean_dice'][a,b]:.3f} fp {s['false_positives_per_case'][a,b]:.3f} sens {s['sensitivity_large'][a,b]:.3f} clean {s['clean_fraction'][a,b]:.2f} f1 {s['lesion_f1'][a,b]:.3f}")
