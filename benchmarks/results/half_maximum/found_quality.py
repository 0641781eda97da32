"""Diagnosis (seeds 10300-10347, used): how well 0.12.0's final lesions outline each tumour it finds.

Session 33 scratch script, kept as the record of the development run; paths are that session's (commands.sh)."""
import sys, json
from pathlib import Path
sys.path.insert(0, "/work/main/benchmarks/results/magnified_outline"); sys.path.insert(0, "/work/main/benchmarks/results/zoom_tta")
sys.path.insert(0, "/work/main/LungTumorSeg")
import numpy as np, SimpleITK as sitk
from gate import as_image
from gate_join import Arms
from misses import phantom_tumour
from lungtumorseg.evaluation.lesions import equivalent_diameter_mm, label_components
from lungtumorseg.relabel import MeasureContext, lesions_from_probability
S = "/work/train/s32"
arms = Arms(Path(f"{S}/pkg0100/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom"),
            "/work/main/benchmarks/results/zoom_tta/look_classifier.safetensors", ("0.12.0",))
rows = []
for looked in arms.cases(Path(f"{S}/zoommaps15"), [f"/work/main/benchmarks/.cache/heldout-small-10300-48:{S}/fresh4cache"]):
    merged, zoom = as_image(looked.added.probability, looked.image), as_image(looked.zoom, looked.image)
    labels, lesions = lesions_from_probability(merged, looked.image, arms.threshold, arms.rule,
                                               MeasureContext(looked.lung_z, None, looked.added.points), arms.check, zoom)
    lab = sitk.GetArrayFromImage(labels)
    np.save(f"/work/train/s33/final/{looked.name.split('/')[-1]}.npy", lab.astype(np.uint16))
    t, n = label_components(looked.truth); vmm = float(np.prod(looked.image.GetSpacing()))
    for i in range(1, n + 1):
        inside = t == i
        ids = np.unique(lab[inside]); ids = ids[ids > 0]
        if not ids.size:
            continue
        pred = np.isin(lab, ids)
        # only the part of those lesions near this tumour (another tumour's voxels excluded)
        pred &= ~((t > 0) & (t != i))
        tp = int((pred & inside).sum())
        k = phantom_tumour(looked.meta, looked.image, inside)
        rows.append({"case": looked.name, "d": round(float(equivalent_diameter_mm(inside.sum() * vmm)), 1), **k,
                     "recall": round(tp / int(inside.sum()), 3), "precision": round(tp / int(pred.sum()), 3),
                     "dice": round(2 * tp / (int(inside.sum()) + int(pred.sum())), 3),
                     "spacing": [round(s, 2) for s in looked.image.GetSpacing()]})
        print(rows[-1], flush=True)
Path("/work/train/s33/found_quality.json").write_text(json.dumps(rows, indent=1))
