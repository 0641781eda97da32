#!/usr/bin/env bash
# The exact commands of the more-phantoms experiment (session 36). Working data is not committed; it
# regenerates from seeds (../small_synthetic/commands.sh step 1 makes the card's training phantoms, the
# calibration phantoms and arm A's maps and candidates). Run from the repository root.
set -euo pipefail
W=/work/train/s34   # session 34's phantoms (the card's training set)
S=/work/train/s36
E=benchmarks/results/more_phantoms
# 1. 120 new training phantoms (seeds 20000-20119, made like the card's) and the combined data folder:
.venv/bin/python -m lungtumorseg.cli phantom $S/new --cases 120 --seed 20000 --size small --full-every 4 --msd --workers 2
.venv/bin/python $E/combine.py $S/data $W/data:0 $S/new:1000
# 2. Arm G (crops prepared, then three 1-thread training processes):
bash $E/train.sh
# 3. G in 0.10.0's card, its candidates on the 80 calibration phantoms, the gate and PLAN.md's verdict
#    (session 35's verdict.py with the arm named G):
bash benchmarks/results/partsolid_synthetic/judge_arm.sh G $S/model-G $S $E 0.13.0-phantoms \
  benchmarks/results/fresh_tumours/verdict.py
