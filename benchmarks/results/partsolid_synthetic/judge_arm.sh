#!/usr/bin/env bash
# judge_arm.sh ARM MODEL WORK RESULTS VERSION VERDICT: one trained arm judged against arm A (0.10.0's
# package) on the 80 calibration phantoms, the way sessions 35 and 36 judged theirs. MODEL (zone networks)
# goes into 0.10.0's card as WORK/package-ARM (VERSION; kept if it exists); its candidates come from two 1-thread processes
# (maps cached in WORK/calcache-ARM and WORK/cal2cache-ARM; cases already done are skipped); this folder's
# gate.py writes RESULTS/arms.json and RESULTS/arms.log; VERDICT (a verdict.py taking ARMS OUT ARM)
# writes RESULTS/gate.json and RESULTS/gate.log. Needs session 34's data in /work/train/s34
# (../small_synthetic/commands.sh step 1). Run from the repository root.
set -euo pipefail
arm=$1 model=$2 S=$3 E=$4 version=$5 verdict=$6
W=/work/train/s34
P=benchmarks/results/partsolid_synthetic
PKG=$W/pkg0100/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom
[ -d $S/package-$arm ] || .venv/bin/python $P/assemble.py $PKG $model $S/package-$arm $version
OMP_NUM_THREADS=1 .venv/bin/python $P/candidates.py $S/package-$arm $W/calibration $S/calcache-$arm $S/cand/$arm-cal1 &
OMP_NUM_THREADS=1 .venv/bin/python $P/candidates.py $S/package-$arm $W/calibration2 $S/cal2cache-$arm $S/cand/$arm-cal2
wait
.venv/bin/python $P/gate.py $E/arms.json $PKG/candidate_check.safetensors $W/calibration,$W/calibration2 \
  --arm A $PKG $W/calcache-A,$W/cal2cache-A $W/cand/A-cal1,$W/cand/A-cal2 \
  --arm $arm $S/package-$arm $S/calcache-$arm,$S/cal2cache-$arm $S/cand/$arm-cal1,$S/cand/$arm-cal2 | tee $E/arms.log
.venv/bin/python $verdict $E/arms.json $E/gate.json $arm | tee $E/gate.log
