"""Diagnosis after the failed decision (both sets now used, nothing chosen from it): which part of H carries its gain?

Session 33 scratch script, kept as the record; paths are that session's (0.12.0 final labels saved by found_quality.py)."""
import sys, json
from pathlib import Path
sys.path.insert(0, "/work/main/LungTumorSeg")
import numpy as np, SimpleITK as sitk
from scipy import ndimage as ndi
from lungtumorseg.io import read_image
from lungtumorseg.training.dataset import discover_cases
FACE = ndi.generate_binary_structure(3, 1)

def refine(lab, hu, sp, mode, solid_hu=-300.0, reach=2.0):
    out = np.zeros_like(lab); objs = ndi.find_objects(lab)
    pad = [int(np.ceil(11 / s)) for s in sp]
    for v in range(1, len(objs) + 1):
        if objs[v - 1] is None: continue
        box = tuple(slice(max(o.start - p, 0), o.stop + p) for o, p in zip(objs[v - 1], pad))
        L, h, l = lab[box] == v, hu[box], lab[box]
        d = ndi.distance_transform_edt(~L, sampling=sp)
        shell = (d >= 3) & (d <= 10) & (h <= -500)
        B = float(np.median(h[shell])) if shell.sum() >= 20 else -850.0
        T = float(np.median(h[L])); edge = 0.5 * (T + B)
        solid = T >= solid_hu
        if T - B < 100 or (mode in ("nonsolid_only", "widen_nonsolid") and solid):
            new = L
        else:
            trim = mode in ("H", "nonsolid_only")
            free = (l == 0) & (out[box] == 0) & (d <= reach) & (h <= 100)
            allowed = (h >= edge) & ((L if trim else np.zeros_like(L)) | free)
            if not trim:
                allowed |= L
            cl, _ = ndi.label(allowed, FACE)
            own = np.bincount(cl[L & allowed].ravel()); own[0] = 0
            new = cl == int(np.argmax(own)) if own.any() else L
            if new.sum() < 0.3 * L.sum(): new = L
        o = out[box]; o[new & (o == 0)] = v
    return out

def dice(p, t):
    s = p.sum() + t.sum(); return 1.0 if s == 0 else 2 * (p & t).sum() / s

sets = {"10300": ("/work/main/benchmarks/.cache/heldout-small-10300-48", "/work/train/s33/final"),
        "10400": ("/work/main/benchmarks/.cache/heldout-small-10400-32", "/work/train/s33/final10400")}
modes = ["none", "H", "nonsolid_only", "widen_nonsolid", "widen_all"]
res = {}
for name, (data, final) in sets.items():
    per = {m: [] for m in modes}
    for case in discover_cases(Path(data)):
        image = read_image(case.image); hu = sitk.GetArrayFromImage(image).astype(np.float32)
        truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
        if not truth.any(): continue
        lab = np.load(f"{final}/{case.name}.npy").astype(np.int32); sp = image.GetSpacing()[::-1]
        for m in modes:
            pred = lab if m == "none" else refine(lab, hu, sp, m)
            per[m].append(dice(pred > 0, truth))
    res[name] = {m: round(float(np.mean(v)), 4) for m, v in per.items()}
    print(name, res[name], flush=True)
Path("/work/train/s33/variants.json").write_text(json.dumps(res, indent=1))
