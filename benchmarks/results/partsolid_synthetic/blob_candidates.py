"""Diagnosis for a second detector (next session's idea): would the nodule-enhancement channel
(the networks' third input, a multi-scale Hessian blob filter) find the tumours the networks
do not answer, and at what cost in false candidates?

For every calibration phantom: the blob channel on the model grid (as inference computes it),
its components at several levels inside the classical lung mask (face connectivity, >= 30 mm3
on the 1.5 mm grid), which touch a truth tumour >= 10 mm, and how many touch none. Truth is
resampled to the model grid (nearest neighbour). 0.10.0's peak in each truth tumour comes
from ``diagnosis_calibration.json`` order-independently (case + diameter).

Usage: blob_candidates.py OUT.json DATA [DATA ...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "LungTumorSeg"))

from lungtumorseg.evaluation.lesions import equivalent_diameter_mm  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.lungs import find_lungs  # noqa: E402
from lungtumorseg.models.package import default_package_dir, load_package  # noqa: E402
from lungtumorseg.preprocess import IntensityWindow, network_input, to_canonical  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

LEVELS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
MIN_MM3 = 30.0


def main() -> None:
    package = load_package(default_package_dir())
    card, spacing = package.card, package.card.spacing_mm
    voxel = float(np.prod(spacing))
    earlier = {(t["case"], t["d"]): t for t in json.loads((HERE / "diagnosis_calibration.json").read_text())}
    per_level = {lv: {"large_found": 0, "unanswered_found": 0, "false_candidates": 0} for lv in LEVELS}
    large = unanswered = cases = 0
    for data in (Path(p) for p in sys.argv[2:]):
        for case in discover_cases(data):
            cases += 1
            image = read_image(case.image)
            canonical = to_canonical(image, spacing)
            hu = sitk.GetArrayFromImage(canonical)
            lungs = find_lungs(hu, spacing)
            blob = network_input(hu, lungs.mask, IntensityWindow(*card.window_hu), False, card.blob_filter, spacing)[-1]
            truth_in = read_image(case.label)
            truth = sitk.GetArrayFromImage(sitk.Resample(truth_in, canonical, sitk.Transform(), sitk.sitkNearestNeighbor,
                                                         0, sitk.sitkUInt8)) > 0
            t_in, t_n = ndi.label(sitk.GetArrayFromImage(truth_in) > 0)
            in_voxel = float(np.prod(truth_in.GetSpacing()))
            t_lab, _ = ndi.label(truth)
            tumours = []  # (input-grid diameter, canonical label ids touching it)
            for i in range(1, t_n + 1):
                d = round(float(equivalent_diameter_mm((t_in == i).sum() * in_voxel)), 1)
                if d < 10.0:
                    continue
                # the canonical truth component(s) overlapping this tumour's resampled voxels
                point = np.argwhere(t_in == i).mean(0)[::-1]
                idx = canonical.TransformPhysicalPointToIndex(truth_in.TransformContinuousIndexToPhysicalPoint(
                    tuple(float(v) for v in point)))
                ids = {int(t_lab[idx[2], idx[1], idx[0]])} - {0}
                tumours.append((d, ids))
                prior = earlier.get((f"{data.name}/{case.name}", d))
                large += 1
                unanswered += int(prior is not None and prior["peak"] < 0.5)
            for lv in LEVELS:
                comp, n = ndi.label((blob >= lv) & (lungs.mask > 0))
                sizes = np.bincount(comp.ravel(), minlength=n + 1)
                ok = np.nonzero(sizes * voxel >= MIN_MM3)[0]
                ok = ok[ok > 0]
                touching = set(np.unique(comp[truth & np.isin(comp, ok)]).tolist()) - {0}
                per_level[lv]["false_candidates"] += int(len(ok) - len(touching))
                for d, ids in tumours:
                    hit = bool(ids) and bool(np.isin(comp[np.isin(t_lab, list(ids))], list(touching)).any())
                    prior = earlier.get((f"{data.name}/{case.name}", d))
                    per_level[lv]["large_found"] += int(hit)
                    per_level[lv]["unanswered_found"] += int(hit and prior is not None and prior["peak"] < 0.5)
            print(data.name, case.name, {lv: dict(v) for lv, v in per_level.items()}, flush=True)
    out = {"cases": cases, "tumours_ge10": large, "unanswered_by_0.10.0": unanswered,
           "by_level": {str(lv): {**v, "false_per_case": round(v["false_candidates"] / max(cases, 1), 2)}
                        for lv, v in per_level.items()}}
    Path(sys.argv[1]).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
