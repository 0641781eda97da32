#!/usr/bin/env bash
# Arm B of PLAN.md: the shipped zone networks + 2,500 steps per zone of the card's recipe with small
# synthetic tumours in the copies. Run from the repository root. Training phantoms: seeds 100-159 (commands.sh).
set -euo pipefail
W=/work/train/s34
ARGS="$W/data -o $W/model-B --workdir $W/run-B --demo --lung-channel --blob-channel
  --roi 48 --seed 34 --split-seed 3 --name lungtumorseg-demo-phantom --version 0.13.0-small
  --init-from LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom --steps 2500 --val-every 1250 --max-minutes 27
  --lr 1e-4 --threads 1 --hard-negatives dense --mine-negatives 0.25 --positive-ratio 0.45 --lung-ratio 0.15
  --synthetic-copies 3 --synthetic-diameter-mm 5 8 20 --synthetic-per-copy 3 6 --precision bf16
  --loss tversky-ce --tversky-beta 0.7 --keep-weights last"
bash scripts/train_zones.sh $W/model-B $W/train-B "Experiment (session 34): demo 0.12.0's networks trained 2,500 more steps with small synthetic tumours (5-20 mm, median 8, 3-6 per copy). Trained on synthetic data, a demonstration, not for clinical use." $ARGS
echo TRAIN DONE
