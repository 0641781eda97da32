#!/usr/bin/env bash
# Arm G of PLAN.md: the shipped zone networks + 2,500 steps of the card's recipe on the card's 60
# training phantoms + 120 new ones (seeds 20000-20119), without synthetic copies. Run from the
# repository root after commands.sh step 1. The 60 card phantoms' crops are session 34's (the same
# preparation parameters, so the same cache key); the new ones are prepared here.
set -euo pipefail
W=/work/train/s34 S=/work/train/s36
mkdir -p $S/run-G/cache-22ccf0d0e076
for f in $W/run-B/cache-22ccf0d0e076/lung_0*.npz; do
  [ -e $S/run-G/cache-22ccf0d0e076/$(basename $f) ] || ln -s $f $S/run-G/cache-22ccf0d0e076/
done
ARGS="$S/data -o $S/model-G --workdir $S/run-G --demo --lung-channel --blob-channel
  --roi 48 --seed 36 --split-seed 3 --name lungtumorseg-demo-phantom --version 0.13.0-phantoms
  --init-from LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom --steps 2500 --val-every 1250 --max-minutes 35
  --lr 1e-4 --threads 1 --hard-negatives dense --mine-negatives 0.25 --positive-ratio 0.45 --lung-ratio 0.15
  --precision bf16 --loss tversky-ce --tversky-beta 0.7 --keep-weights last"
bash scripts/train_zones.sh $S/model-G $S/train-G "Experiment (session 36): demo 0.12.0's networks trained 2,500 more steps on the card's 60 training phantoms and 120 new ones, without synthetic copies. Trained on synthetic data, a demonstration, not for clinical use." $ARGS
echo TRAIN DONE
