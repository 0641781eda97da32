#!/usr/bin/env bash
# The exact commands of the more-phantoms experiment (session 36). Working data is not committed; it
# regenerates from seeds (../small_synthetic/commands.sh step 1 makes the card's training phantoms, the
# calibration phantoms and arm A's maps and candidates). Run from the repository root.
set -euo pipefail
W=/work/train/s34   # session 34's phantoms, arm A's maps and candidates, 0.10.0's package
S=/work/train/s36
E=benchmarks/results/more_phantoms
P=benchmarks/results/partsolid_synthetic  # session 28's assembly, candidates and gate, reused unchanged
PKG=$W/pkg0100/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom
# 1. 120 new training phantoms (seeds 20000-20119, made like the card's) and the combined data folder:
.venv/bin/python -m lungtumorseg.cli phantom $S/new --cases 120 --seed 20000 --size small --full-every 4 --msd --workers 2
.venv/bin/python $E/combine.py $S/data $W/data:0 $S/new:1000
# 2. Arm G (crops prepared, then three 1-thread training processes) and its package (0.10.0's card, G's networks):
bash $E/train.sh
.venv/bin/python $P/assemble.py $PKG $S/model-G $S/package-G 0.13.0-phantoms
# 3. Arm G's candidates on the 80 calibration phantoms (maps computed here, two 1-thread processes):
OMP_NUM_THREADS=1 .venv/bin/python $P/candidates.py $S/package-G $W/calibration $S/calcache-G $S/cand/G-cal1 &
OMP_NUM_THREADS=1 .venv/bin/python $P/candidates.py $S/package-G $W/calibration2 $S/cal2cache-G $S/cand/G-cal2
wait
# 4. The gate (arms.json: both arms' counts; gate.json: PLAN.md's gate and continuation rule):
.venv/bin/python $P/gate.py $E/arms.json $PKG/candidate_check.safetensors $W/calibration,$W/calibration2 \
  --arm A $PKG $W/calcache-A,$W/cal2cache-A $W/cand/A-cal1,$W/cand/A-cal2 \
  --arm G $S/package-G $S/calcache-G,$S/cal2cache-G $S/cand/G-cal1,$S/cand/G-cal2 | tee $E/arms.log
.venv/bin/python benchmarks/results/fresh_tumours/verdict.py $E/arms.json $E/gate.json G | tee $E/gate.log
