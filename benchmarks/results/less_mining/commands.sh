#!/usr/bin/env bash
# The exact commands of the less-mining experiment (session 37). Working data is not committed; it
# regenerates from seeds (../more_phantoms/commands.sh step 1 makes the 180-case data folder and its crops;
# ../small_synthetic/commands.sh step 1 the calibration phantoms and arm A's maps and candidates).
# Run from the repository root.
set -euo pipefail
S=/work/train/s37
E=benchmarks/results/less_mining
# 1. Arm H (three 1-thread training processes on the prepared crops):
bash $E/train.sh
# 2. H in 0.10.0's card, its candidates on the 80 calibration phantoms, the gate and PLAN.md's verdict:
bash benchmarks/results/partsolid_synthetic/judge_arm.sh H $S/model-H $S $E 0.13.0-lessmining \
  benchmarks/results/fresh_tumours/verdict.py
