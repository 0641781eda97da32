#!/usr/bin/env bash
# The exact commands of the fresh-tumours experiment (session 35). Working data is not committed; it
# regenerates from seeds (../small_synthetic/commands.sh step 1 makes the training and calibration
# phantoms and arm A's maps and candidates). Run from the repository root.
set -euo pipefail
W=/work/train/s34   # session 34's phantoms, arm A's maps and candidates, 0.10.0's package
S=/work/train/s35
E=benchmarks/results/fresh_tumours
P=benchmarks/results/partsolid_synthetic  # session 28's assembly, candidates and gate, reused unchanged
PKG=$W/pkg0100/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom
# 1. Arm F (three 1-thread training processes) and its package (0.10.0's card with F's networks):
bash $E/train.sh
.venv/bin/python $P/assemble.py $PKG $S/model-F $S/package-F 0.13.0-fresh
# 2. Arm F's candidates on the 80 calibration phantoms (maps computed here, two 1-thread processes):
OMP_NUM_THREADS=1 .venv/bin/python $P/candidates.py $S/package-F $W/calibration $S/calcache-F $S/cand/F-cal1 &
OMP_NUM_THREADS=1 .venv/bin/python $P/candidates.py $S/package-F $W/calibration2 $S/cal2cache-F $S/cand/F-cal2
wait
# 3. The gate (arms.json: both arms' counts; gate.json: PLAN.md's gate and continuation rule):
.venv/bin/python $P/gate.py $E/arms.json $PKG/candidate_check.safetensors $W/calibration,$W/calibration2 \
  --arm A $PKG $W/calcache-A,$W/cal2cache-A $W/cand/A-cal1,$W/cand/A-cal2 \
  --arm F $S/package-F $S/calcache-F,$S/cal2cache-F $S/cand/F-cal1,$S/cand/F-cal2 | tee $E/arms.log
.venv/bin/python $E/verdict.py $E/arms.json $E/gate.json | tee $E/gate.log
