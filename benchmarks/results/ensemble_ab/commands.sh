#!/usr/bin/env bash
# The exact commands of the two-network ensemble experiment (session 35). It reuses session 34's
# working data (its calibration phantoms, arm A's and arm B's cached maps and arm A's candidates;
# ../small_synthetic/commands.sh regenerates them from seeds). Run from the repository root.
set -euo pipefail
W=/work/train/s34   # session 34's working data
S=/work/train/s35
E=benchmarks/results/ensemble_ab
P=benchmarks/results/partsolid_synthetic  # session 28's candidates and gate, reused unchanged
PKG=$W/pkg0100/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom  # 0.10.0's package (arm A)
# 1. Arm E's maps: the mean of arm A's and arm B's, stored under arm A's cache key:
.venv/bin/python $E/average_maps.py $PKG $W/calcache-A $W/package-B $W/calcache-B $S/calcache-E
.venv/bin/python $E/average_maps.py $PKG $W/cal2cache-A $W/package-B $W/cal2cache-B $S/cal2cache-E
# 2. Arm E's candidates, read with arm A's card (threshold 0.45, >= 30 mm3):
OMP_NUM_THREADS=1 .venv/bin/python $P/candidates.py $PKG $W/calibration $S/calcache-E $S/cand/E-cal1 &
OMP_NUM_THREADS=1 .venv/bin/python $P/candidates.py $PKG $W/calibration2 $S/cal2cache-E $S/cand/E-cal2
wait
# 3. The gate (arms.json: both arms' counts; its "gate" entry is session 28's rule; gate.json: PLAN.md's):
.venv/bin/python $P/gate.py $E/arms.json $PKG/candidate_check.safetensors $W/calibration,$W/calibration2 \
  --arm A $PKG $W/calcache-A,$W/cal2cache-A $W/cand/A-cal1,$W/cand/A-cal2 \
  --arm E $PKG $S/calcache-E,$S/cal2cache-E $S/cand/E-cal1,$S/cand/E-cal2 | tee $E/arms.log
.venv/bin/python $E/verdict.py $E/arms.json $E/gate.json | tee $E/gate.log
