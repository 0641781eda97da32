#!/usr/bin/env bash
# Session 19: 0.6.1 zone networks trained further with synthetic-tumour copies (training.insertion).
set -euo pipefail
cd /work/main
PY=.venv/bin/python
export PYTHONPATH=LungTumorSeg
W=/work/train/s19
ARGS="$W/data -o $W/model --workdir $W/run --demo --lung-channel --blob-channel --roi 48 --seed 7 --split-seed 3
 --name lungtumorseg-demo-phantom --version 0.7.0 --init-from LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom
 --steps ${STEPS:-6000} --val-every ${VAL_EVERY:-1500} --max-minutes ${MINUTES:-75} --lr 1.5e-4 --threads 1
 --hard-negatives dense --mine-negatives 0.2 --positive-ratio 0.45 --lung-ratio 0.2 --synthetic-copies 2 --precision bf16"
OMP_NUM_THREADS=2 $PY -m lungtumorseg.cli train $ARGS --prepare-only > $W/prepare.log 2>&1
for zone in upper middle lower; do
  OMP_NUM_THREADS=1 $PY -m lungtumorseg.cli train $ARGS --zone $zone > $W/train_$zone.log 2>&1 &
done
wait
$PY -m lungtumorseg.cli train $ARGS > $W/collect.log 2>&1
echo TRAIN DONE
