#!/usr/bin/env bash
# The exact commands of this experiment (session 21). Working data is not committed; it
# regenerates from seeds. Paths: W=/work/train (phantoms, probability-map caches).
set -euo pipefail
W=/work/train
# Demo 0.8.0 as shipped before this experiment (a copy of the repository's package at 82384fe);
# 0.8.1 has the same weights, so the same probability maps.
PKG=$W/s21/pkg-0.8.0

# 40 new calibration phantoms (the first 40, seeds 160-199, are recipe stage 7's).
[ -f $W/s21/calibration2/dataset.json ] || OMP_NUM_THREADS=2 .venv/bin/python -m lungtumorseg.cli phantom $W/s21/calibration2 --cases 40 --seed 200 \
  --size small --msd --workers 2

# Probability maps of 0.8.0 for the new phantoms are computed on first use and kept in
# $W/s21/cal2cache; those of seeds 160-199 and of the held-out phantoms were kept by session 20.
OMP_NUM_THREADS=2 .venv/bin/python benchmarks/calibration_procedures.py --model $PKG --data $W/s19/data \
  --calibration-data $W/s19/calibration --cache $W/s20/calcache \
  --calibration-data $W/s21/calibration2 --cache $W/s21/cal2cache \
  --heldout benchmarks/.cache/heldout-small-10000-16 --heldout-cache $W/s20/froccache \
  --folds 5 --repeats 4 --seed 21 --candidates $W/s21/candidates \
  --out benchmarks/results/operating_point_cv | grep -v ' measured$' | tee benchmarks/results/operating_point_cv/procedures.log
