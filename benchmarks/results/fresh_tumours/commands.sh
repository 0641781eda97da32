#!/usr/bin/env bash
# The exact commands of the fresh-tumours experiment (session 35). Working data is not committed; it
# regenerates from seeds (../small_synthetic/commands.sh step 1 makes the training and calibration
# phantoms and arm A's maps and candidates). Run from the repository root.
set -euo pipefail
S=/work/train/s35
E=benchmarks/results/fresh_tumours
# 1. Arm F (three 1-thread training processes):
bash $E/train.sh
# 2. F in 0.10.0's card, its candidates on the 80 calibration phantoms, the gate (arms.json: both arms'
#    counts) and PLAN.md's gate and continuation rule (gate.json):
bash benchmarks/results/partsolid_synthetic/judge_arm.sh F $S/model-F $S $E 0.13.0-fresh $E/verdict.py
