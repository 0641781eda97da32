#!/usr/bin/env bash
# The exact commands of the part-solid fine-tuning experiment (session 28). Working data is not
# committed; it regenerates from seeds. Run from the repository root.
set -euo pipefail
W=/work/train/s28
E=benchmarks/results/partsolid_synthetic
PKG=LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom
PH=".venv/bin/python -m lungtumorseg.cli phantom"
# Calibration phantoms (seeds 160-239) and 0.10.0's cached maps of them were session 26's:
$PH $W/calibration --cases 40 --seed 160 --size small --msd --workers 2
$PH $W/calibration2 --cases 40 --seed 200 --size small --msd --workers 2
# 1. Diagnosis that prompted the plan (0.10.0's maps; the figure: no_response.png):
.venv/bin/python $E/lungmask_diagnosis.py $E/diagnosis_calibration.json $W/calibration:$W/calcache \
  $W/calibration2:$W/cal2cache
# 2. Training phantoms (the card's, seeds 100-159) and arm B:
$PH $W/data --cases 60 --seed 100 --size small --full-every 4 --msd --workers 2
bash $E/train.sh
.venv/bin/python $E/assemble.py $PKG $W/model-B $W/package-B 0.11.0-partsolid
# 3. Candidates of both arms on the 80 calibration phantoms (B's maps computed here, two 1-thread processes):
for arm in A B; do
  P=$PKG; [ $arm = B ] && P=$W/package-B
  OMP_NUM_THREADS=1 .venv/bin/python $E/candidates.py $P $W/calibration $W/calcache-$arm $W/cand/$arm-cal1 &
  OMP_NUM_THREADS=1 .venv/bin/python $E/candidates.py $P $W/calibration2 $W/cal2cache-$arm $W/cand/$arm-cal2
  wait
done
# 4. The gate:
.venv/bin/python $E/gate.py $E/gate.json $PKG/candidate_check.safetensors $W/calibration,$W/calibration2 \
  --arm A $PKG $W/calcache-A,$W/cal2cache-A $W/cand/A-cal1,$W/cand/A-cal2 \
  --arm B $W/package-B $W/calcache-B,$W/cal2cache-B $W/cand/B-cal1,$W/cand/B-cal2
