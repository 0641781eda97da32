"""Candidates passing 0.8.1's peak, elongation and density limits at its threshold on the 80
calibration phantoms, by thresholded volume: true (grown outline touches a tumour) and false,
with their mean density. Shows what the 400 mm3 limit removes. From the stored candidates.

    python benchmarks/results/grown_size_cv/small_candidates.py

0.8.1 is read as the default demo package, which it was up to commit 0aa7c5a: to re-run,
check that commit out (``git worktree add /tmp/lts-0.8.1 0aa7c5a``).
"""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, "LungTumorSeg"); sys.path.insert(0, "benchmarks")
from calibration_procedures import candidates_of
from lungtumorseg.evaluation.calibration_data import calibration_phantoms, case_caches
from lungtumorseg.evaluation.probability_cache import cache_key
from lungtumorseg.models.package import default_package_dir, load_package
from lungtumorseg.outline import OutlineGrowth
W = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/train"); package=load_package(default_package_dir()); key=cache_key(package,[])
folders=[W/"s19/calibration", W/"s21/calibration2"]
cases,_=calibration_phantoms(W/"s19/data", folders)
cal=candidates_of(cases, case_caches(cases, folders,[W/"s20/calcache",W/"s21/cal2cache"]), package, key, W/"s22/candidates", OutlineGrowth(-650.,100.,2.))
rows=[]
for c in cal:
    a=c.at_threshold[c.index_of(0.15)]
    ok=(a.peak>=0.6)&(a.elongation<=1.75)&(a.mean_hu<=150)
    for j in np.flatnonzero(ok):
        tp=a.grown.overlap_voxels[j]>0
        rows.append((a.volume_mm3[j], a.mean_hu[j], tp, a.peak[j]))
r=np.array(rows)
for lo,hi in ((30,120),(120,250),(250,400),(400,1e9)):
    m=(r[:,0]>=lo)&(r[:,0]<hi)
    tp=m&(r[:,2]==1); fp=m&(r[:,2]==0)
    print(f"vol {lo}-{hi}: TP {tp.sum()} FP {fp.sum()}")
    print("   TP HU", np.round(np.sort(r[tp,1])).astype(int).tolist())
    print("   FP HU", np.round(np.sort(r[fp,1])).astype(int).tolist())
