#!/usr/bin/env bash
# Session 20: demo 0.7.0's zone networks trained further with 3 synthetic-tumour copies per
# case (one more than 0.7.0 saw) and 25 % of the patches on 0.7.0's own false positives.
set -euo pipefail
cd /work/main
PY=.venv/bin/python
export PYTHONPATH=LungTumorSeg
W=/work/train/s20
DATA=/work/train/s19/data   # the 60 training phantoms, seeds 100-159 (see ../synthetic_tumours_experiment)
ARGS="$DATA -o $W/model --workdir $W/run --demo --lung-channel --blob-channel --roi 48 --seed 7 --split-seed 3
 --name lungtumorseg-demo-phantom --version 0.8.0 --init-from LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom
 --steps ${STEPS:-5000} --val-every ${VAL_EVERY:-1250} --max-minutes ${MINUTES:-55} --lr 1e-4 --threads 1
 --hard-negatives dense --mine-negatives 0.25 --positive-ratio 0.45 --lung-ratio 0.15 --synthetic-copies 3 --precision bf16"
OMP_NUM_THREADS=2 $PY -m lungtumorseg.cli train $ARGS --prepare-only > $W/prepare.log 2>&1
for zone in upper middle lower; do
  OMP_NUM_THREADS=1 $PY -m lungtumorseg.cli train $ARGS --zone $zone > $W/train_$zone.log 2>&1 &
done
wait
$PY -m lungtumorseg.cli train $ARGS --description "$(cat benchmarks/results/synthetic_tumours_stage2/description.txt)" > $W/collect.log 2>&1
echo TRAIN DONE
