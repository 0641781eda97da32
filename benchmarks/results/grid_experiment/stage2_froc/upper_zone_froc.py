"""Upper zone only: FROC of 0.6.1 and of the 1.0 mm candidate (whose upper network is the
stage-1 grid arm) on the same 20 calibration phantoms, to test stage 1's claim at equal
false-finding rates. Truth tumours and candidates are kept when their centroid lies in the
upper zone as the pipeline places lesions (each run's own lung extent); candidates elsewhere
are removed by a zone limit no lesion can pass.

usage: python upper_zone_froc.py CAL20 LABEL=PACKAGE:CACHE[:THRESHOLD] ... > upper_zone_froc.txt
"""
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "LungTumorSeg"))
from lungtumorseg.evaluation.calibration import case_curve, component_centroids, zone_of_centroids  # noqa: E402
from lungtumorseg.evaluation.froc import CPM_FP_RATES, candidate_peaks, froc_curve, froc_filters, sweep_levels  # noqa: E402
from lungtumorseg.evaluation.lesions import label_components  # noqa: E402
from lungtumorseg.evaluation.probability_cache import cache_key, cached_probability  # noqa: E402
from lungtumorseg.io import read_image  # noqa: E402
from lungtumorseg.models.package import load_package  # noqa: E402
from lungtumorseg.postprocess import LesionFilter  # noqa: E402
from lungtumorseg.training.dataset import discover_cases  # noqa: E402

NOWHERE = LesionFilter(min_lesion_mm3=1e12)  # a zone limit no lesion passes
cases = discover_cases(sys.argv[1])
for run in sys.argv[2:]:
    label, _, spec = run.partition("=")
    parts = spec.split(":")
    package = load_package(parts[0])
    threshold = float(parts[2]) if len(parts) > 2 else 0.10
    key = cache_key(package, [])
    levels = sweep_levels([candidate_peaks(cached_probability(c, package, 2, Path(parts[1]), key)[0], threshold)
                           for c in cases])  # every candidate's peak: an exact sweep
    for name, base in (("card limits", package.card.lesion_filter), ("threshold only", LesionFilter())):
        rule = base.with_zone_limit("middle", NOWHERE).with_zone_limit("lower", NOWHERE)
        curves = []
        for case in cases:
            image = read_image(case.image)
            truth = sitk.GetArrayFromImage(read_image(case.label)) > 0
            prob, lung_z = cached_probability(case, package, 2, Path(parts[1]), key)
            zones = zone_of_centroids(image, lung_z)
            t_lab, n_t = label_components(truth)
            keep = [i + 1 for i, z in enumerate(zones(component_centroids(t_lab, n_t))) if z == "upper"]
            curves.append(case_curve(prob, np.isin(t_lab, keep), image.GetSpacing(), [threshold],
                                     froc_filters(rule, levels), hu=sitk.GetArrayFromImage(image), zone_of_centroids=zones))
        for large in (True, False):
            curve = froc_curve(curves, levels, large_only=large)
            at = " ".join(f"{curve.sensitivity_at(r):.2f}" for r in CPM_FP_RATES)
            print(f"{label:8s} {name:15s} t {threshold:.2f} {'>=10 mm' if large else 'all   '} n={curve.n_lesions:2d} "
                  f"sens at 1/8..8 FP/case: {at}  CPM {curve.cpm():.3f}", flush=True)
