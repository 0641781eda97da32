"""Diagnosis: every truth tumour (all sizes) of seeds 10300-10347 with 0.10.0 (no look): stage of loss.

Session 33 scratch script, kept as the record; paths are that session's (benchmarks/results/half_maximum/commands.sh)."""
import sys, json
from pathlib import Path
sys.path.insert(0, "/work/main/LungTumorSeg"); sys.path.insert(0, "/work/main/benchmarks/results/heldout48")
import numpy as np, SimpleITK as sitk
from misses import phantom_tumour
from lungtumorseg.evaluation.lesions import equivalent_diameter_mm, label_components
from lungtumorseg.evaluation.froc import scored_candidates
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability
from lungtumorseg.io import read_image
from lungtumorseg.models.package import load_package
from lungtumorseg.training.dataset import discover_cases
data, cache = Path("/work/main/benchmarks/.cache/heldout-small-10300-48"), Path("/work/train/s32/fresh4cache")
package = load_package(Path("/work/train/s32/pkg0100/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom"))
check = package.candidate_check(); threshold = float(package.card.raw["postprocessing"]["threshold"])
key = cache_key(package, list(package.card.mirror_axes)); print(key)
rows = []
for case in discover_cases(data):
    image = read_image(case.image); truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
    prob, lung_z = cached_probability(case, package, 1, cache, key)
    pi = sitk.GetImageFromArray(prob); pi.CopyInformation(image)
    scored = scored_candidates(pi, image, truth, threshold, package.card.lesion_filter, check.scores, lung_z)
    t_lab, _ = label_components(truth); vmm = float(np.prod(image.GetSpacing()))
    for i in range(scored.n_truth):
        inside = t_lab == i + 1
        touching = scored.scores[scored.touches[i]]
        d = float(equivalent_diameter_mm(inside.sum() * vmm))
        found = bool(touching.size and touching.max() >= check.cutoff)
        stage = "found" if found else ("classifier" if touching.size else ("too small" if (prob[inside] >= threshold).any() else "no response"))
        k = phantom_tumour(data / "meta" / f"{case.name}.json", image, inside)
        rows.append({"case": case.name, "d": round(d, 1), "stage": stage, "kind": k.get("kind"), "loc": k.get("location"),
                     "zone": k.get("zone"), "peak": round(float(prob[inside].max()), 3),
                     "score": round(float(touching.max()), 3) if touching.size else None})
        print(rows[-1], flush=True)
Path(__file__).with_name("tumours_by_stage_10300.json").write_text(json.dumps(rows, indent=1))
