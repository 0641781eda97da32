#!/usr/bin/env bash
# Arm H of PLAN.md: G's command (../more_phantoms/train.sh) with --mine-negatives 0.10 instead of 0.25 and
# seed 37. Run from the repository root; needs session 36's data folder and prepared crops
# (../more_phantoms/commands.sh step 1), reused through a link to the crops' cache.
set -euo pipefail
G=/work/train/s36 S=/work/train/s37
mkdir -p $S/run-H
[ -e $S/run-H/cache-22ccf0d0e076 ] || ln -s $G/run-G/cache-22ccf0d0e076 $S/run-H/cache-22ccf0d0e076
ARGS="$G/data -o $S/model-H --workdir $S/run-H --demo --lung-channel --blob-channel
  --roi 48 --seed 37 --split-seed 3 --name lungtumorseg-demo-phantom --version 0.13.0-lessmining
  --init-from LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom --steps 2500 --val-every 1250 --max-minutes 35
  --lr 1e-4 --threads 1 --hard-negatives dense --mine-negatives 0.10 --positive-ratio 0.45 --lung-ratio 0.15
  --precision bf16 --loss tversky-ce --tversky-beta 0.7 --keep-weights last"
bash scripts/train_zones.sh $S/model-H $S/train-H "Experiment (session 37): demo 0.12.0's networks trained 2,500 more steps on the card's 60 training phantoms and 120 new ones, 10 % of patches on mined false positives. Trained on synthetic data, a demonstration, not for clinical use." $ARGS
echo TRAIN DONE
