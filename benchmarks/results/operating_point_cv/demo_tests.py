"""The four demo-model test phantoms (run: python demo_tests.py) under 0.8.0's and 0.8.1's operating points (same weights, one run each)."""
import sys
from pathlib import Path
sys.path[:0] = ["/work/main/LungTumorSeg"]
import numpy as np, SimpleITK as sitk
from lungtumorseg.models.package import load_package
from lungtumorseg.phantoms import PhantomConfig, make_phantom
from lungtumorseg.pipeline import SegmentOptions, segment
from lungtumorseg.evaluation import confusion, overlap_metrics, detect_lesions
pk = {"0.8.0": load_package(Path("/work/train/s21/pkg-0.8.0")), "0.8.1": load_package(Path("/work/main/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom"))}
cases = [(10500, 2), (10501, 3), (10502, 1), (10503, 0)]  # Testing/test_demo_model.py's; 10503 tumour-free
for seed, n in cases:
    if n == 0:
        case = make_phantom(seed, PhantomConfig(size="small", n_tumours=0))
    else:
        case = make_phantom(seed, PhantomConfig(size="small", n_tumours=n, tumour_diameter_mm=(12.0, 45.0)))
    truth = sitk.GetArrayFromImage(case.label) > 0
    for name, p in pk.items():
        r = segment(case.image, p, SegmentOptions(threads=2))
        pred = sitk.GetArrayFromImage(r.labels) > 0
        d = detect_lesions(pred, truth, case.image.GetSpacing())
        dice = overlap_metrics(confusion(pred, truth))["dice"] if truth.any() else float("nan")
        print(f"seed {seed} {name}: Dice {dice:.3f}, found {d.n_detected}/{d.n_truth}, FP {d.n_false_positive}, lesions {len(r.lesions)}", flush=True)
