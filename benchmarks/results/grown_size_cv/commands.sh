#!/usr/bin/env bash
# The exact commands of this experiment (session 22). Working data is not committed; it
# regenerates from seeds (see ../operating_point_cv/commands.sh for the calibration phantoms
# and their probability maps). W=/work/train.
set -euo pipefail
W=/work/train
PKG=LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom   # 0.8.1 = 0.8.0's weights, same maps
# The 48 held-out phantoms' maps: seeds 10000-10015 in $W/s20/froccache, 10016-10047 (named
# lung_000-031 in their own folder) in $W/s21/held2cache, linked under the 48-folder's names.
OMP_NUM_THREADS=1 .venv/bin/python benchmarks/calibration_procedures.py --model $PKG --data $W/s19/data \
  --calibration-data $W/s19/calibration --cache $W/s20/calcache \
  --calibration-data $W/s21/calibration2 --cache $W/s21/cal2cache \
  --heldout benchmarks/.cache/heldout-small-10000-48 --heldout-cache $W/s22/held48cache \
  --folds 5 --repeats 4 --seed 22 --candidates $W/s22/candidates \
  --outline-growth -650 100 2 --procedures no-zone-limits no-zone-limits-wide grown-size \
  --out benchmarks/results/grown_size_cv | grep -v ' measured$' | tee benchmarks/results/grown_size_cv/procedures.log
