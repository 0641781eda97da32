#!/usr/bin/env bash
# The exact commands of the Tversky experiment (session 22). Working data is not committed; it
# regenerates from seeds (../operating_point_cv/commands.sh makes the calibration phantoms).
set -euo pipefail
W=/work/train
# 1. Training (train.sh): 0.8.1's networks + 2,500 steps of Tversky + cross-entropy -> $W/s22/model-tversky
# 2. The gate: no-zone-limits cross-validated on the 40 calibration phantoms of seeds 200-239, both models,
#    scored on grown outlines; the arm's maps are computed on first use and kept in cal2cache-tversky.
for arm in tversky baseline; do
  if [ $arm = tversky ]; then MODEL=$W/s22/model-tversky; CACHE=$W/s22/cal2cache-tversky; STORE=$W/s22/candidates-tversky
  else MODEL=LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom; CACHE=$W/s21/cal2cache; STORE=$W/s22/candidates; fi
  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/calibration_procedures.py --model $MODEL --data $W/s19/data \
    --calibration-data $W/s21/calibration2 --cache $CACHE --folds 5 --repeats 4 --seed 22 --candidates $STORE \
    --outline-growth -650 100 2 --procedures no-zone-limits --out benchmarks/results/tversky_experiment/$arm \
    | grep -v ' measured$' | tee benchmarks/results/tversky_experiment/$arm.log
done
.venv/bin/python benchmarks/results/tversky_experiment/responses.py $W | grep -v ' measured$' \
  | tee benchmarks/results/tversky_experiment/responses.log
# 3. The plan's next step: the arm on all 80 calibration phantoms (maps for seeds 160-199 computed here);
#    0.8.1's run on the same 80 with the same splits is ../grown_size_cv/procedures.json.
OMP_NUM_THREADS=2 .venv/bin/python benchmarks/calibration_procedures.py --model $W/s22/model-tversky --data $W/s19/data \
  --calibration-data $W/s19/calibration --cache $W/s22/calcache-tversky \
  --calibration-data $W/s21/calibration2 --cache $W/s22/cal2cache-tversky --folds 5 --repeats 4 --seed 22 \
  --candidates $W/s22/candidates-tversky --outline-growth -650 100 2 --procedures no-zone-limits \
  --out benchmarks/results/tversky_experiment/tversky80 | grep -v ' measured$' | tee benchmarks/results/tversky_experiment/tversky80.log
# 4. Calibration of the arm's package on all 80 (writes its card in $W/s22/model-tversky; log calibrate.log):
OMP_NUM_THREADS=1 .venv/bin/python scripts/calibrate_threshold.py --model $W/s22/model-tversky --data $W/s19/data \
  --calibration-data $W/s19/calibration --cache $W/s22/calcache-tversky \
  --calibration-data $W/s21/calibration2 --cache $W/s22/cal2cache-tversky --procedure no-zone-limits --rule lesion-f1 \
  --outline-growth --threads 1 --tables $W/s22/tversky-calibration-tables.json
