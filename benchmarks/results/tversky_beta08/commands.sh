#!/usr/bin/env bash
# The exact commands of the beta 0.8 experiment (session 23). Working data is not committed; it regenerates
# from seeds (../operating_point_cv/commands.sh makes the calibration phantoms, ../tversky_experiment/train.sh
# the starting networks).
set -euo pipefail
W=/work/train
# 1. Training (train.sh): the beta 0.7 networks + 2,500 steps of Tversky (beta 0.8) + cross-entropy -> $W/s23/model-beta08
# 2. The gate: no-zone-limits cross-validated on the 40 calibration phantoms of seeds 200-239, both models, the same
#    splits as ../tversky_experiment (seed 22), scored on grown outlines; the arm's maps are computed on first use.
for arm in beta08 beta07; do
  if [ $arm = beta08 ]; then MODEL=$W/s23/model-beta08; CACHE=$W/s23/cal2cache-beta08; STORE=$W/s23/candidates-beta08
  else MODEL=$W/s22/model-tversky; CACHE=$W/s22/cal2cache-tversky; STORE=$W/s22/candidates-tversky; fi
  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/calibration_procedures.py --model $MODEL --data $W/s19/data \
    --calibration-data $W/s21/calibration2 --cache $CACHE --folds 5 --repeats 4 --seed 22 --candidates $STORE \
    --outline-growth -650 100 2 --procedures no-zone-limits --out benchmarks/results/tversky_beta08/$arm \
    | grep -v ' measured$' | tee benchmarks/results/tversky_beta08/$arm.log
done
# 3. Responses and coverage of both (seconds, from the stored candidates):
.venv/bin/python benchmarks/results/tversky_experiment/responses.py $W \
  "beta 0.7" $W/s22/model-tversky $W/s22/cal2cache-tversky $W/s22/candidates-tversky \
  "beta 0.8" $W/s23/model-beta08 $W/s23/cal2cache-beta08 $W/s23/candidates-beta08 \
  | grep -v ' measured$' | tee benchmarks/results/tversky_beta08/responses.log
