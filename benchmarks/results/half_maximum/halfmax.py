"""Diagnosis on seeds 10300-10347 (development): half-maximum outlines of 0.12.0's final lesions (variants).

Session 33 scratch script, kept as the record of the development run; paths are that session's (commands.sh)."""
import sys, json, collections
from pathlib import Path
sys.path.insert(0, "/work/main/LungTumorSeg"); sys.path.insert(0, "/work/main/benchmarks/results/heldout48")
import numpy as np, SimpleITK as sitk
from scipy import ndimage as ndi
from misses import phantom_tumour
from lungtumorseg.evaluation.lesions import label_components
from lungtumorseg.io import read_image
from lungtumorseg.training.dataset import discover_cases

data = Path("/work/main/benchmarks/.cache/heldout-small-10300-48")
FACE = ndi.generate_binary_structure(3, 1)

def refine(lab, hu, spacing_zyx, core_q, reach_mm, shell_mm=(3.0, 10.0), trim=True):
    out = np.zeros_like(lab)
    objs = ndi.find_objects(lab)
    pad = [int(np.ceil((shell_mm[1] + 1) / s)) for s in spacing_zyx]
    for v in [int(x) for x in np.unique(lab) if x]:
        box = tuple(slice(max(o.start - p, 0), o.stop + p) for o, p in zip(objs[v - 1], pad))
        sub = refine_one(lab[box], hu[box], v, spacing_zyx, core_q, reach_mm, shell_mm, trim)
        o = out[box]; o[sub & (o == 0)] = v
    return out

def refine_one(lab, hu, v, spacing_zyx, core_q, reach_mm, shell_mm, trim):
    if True:
        L = lab == v
        dist_out = ndi.distance_transform_edt(~L, sampling=spacing_zyx)
        shell = (dist_out >= shell_mm[0]) & (dist_out <= shell_mm[1]) & (hu < -500)
        B = float(np.median(hu[shell])) if shell.sum() > 20 else -850.0
        T = float(np.percentile(hu[L], core_q))
        edge = 0.5 * (T + B)
        near = dist_out <= reach_mm
        cand = near & (hu >= edge) & (hu <= max(T + 200, 100)) & (lab == 0) | (L & (hu >= edge) if trim else L)
        cl, _ = ndi.label(cand, FACE)
        keep_ids = np.unique(cl[L & cand]); keep_ids = keep_ids[keep_ids > 0]
        new = np.isin(cl, keep_ids)
        if new.sum() < 0.3 * L.sum():
            new = L
        return new

def dice(p, t):
    s = p.sum() + t.sum()
    return 1.0 if s == 0 else 2 * (p & t).sum() / s

variants = {"shipped": None}
for q in (50, 75):
    for r in (2.0, 4.0):
        variants[f"q{q}-r{r:g}"] = (q, r, True)
        variants[f"q{q}-r{r:g}-grow"] = (q, r, False)
res = {k: [] for k in variants}; kinds = {k: collections.defaultdict(list) for k in variants}
for case in discover_cases(data):
    image = read_image(case.image); hu = sitk.GetArrayFromImage(image).astype(np.float32)
    truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
    lab = np.load(f"/work/train/s33/final/{case.name}.npy").astype(np.int32)
    sp = image.GetSpacing()[::-1]
    tl, n = label_components(truth)
    for name, v in variants.items():
        pred = lab if v is None else refine(lab, hu, sp, v[0], v[1], trim=v[2])
        if n:
            res[name].append(dice(pred > 0, truth))
            for i in range(1, n + 1):
                inside = tl == i
                ids = np.unique(pred[inside]); ids = ids[ids > 0]
                if not ids.size: continue
                p = np.isin(pred, ids) & ~((tl > 0) & (tl != i))
                k = phantom_tumour(data / "meta" / f"{case.name}.json", image, inside).get("kind")
                kinds[name][k].append((((p & inside).sum()) / inside.sum(), (p & inside).sum() / p.sum()))
    print(case.name, {k: round(v[-1], 3) for k, v in res.items() if v and n}, flush=True)
summary = {}
for name in variants:
    summary[name] = {"mean_dice": round(float(np.mean(res[name])), 4),
                     **{k: "recall %.3f precision %.3f" % tuple(np.mean(kinds[name][k], axis=0)) for k in sorted(kinds[name])}}
    print(name, summary[name])
Path("/work/train/s33/halfmax.json").write_text(json.dumps({"summary": summary, "per_case": res}, indent=1))
