#!/usr/bin/env bash
# Arm B of PLAN.md: 0.10.0's networks + 2,500 steps per zone of the card's recipe with more part-solid
# synthetic tumours. Run from the repository root. Training phantoms: seeds 100-159 (commands.sh).
set -euo pipefail
W=/work/train/s28
ARGS="$W/data -o $W/model-B --workdir $W/run-B --demo --lung-channel --blob-channel
  --roi 48 --seed 28 --split-seed 3 --name lungtumorseg-demo-phantom --version 0.11.0-partsolid
  --init-from LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom --steps 2500 --val-every 1250 --max-minutes 27
  --lr 1e-4 --threads 1 --hard-negatives dense --mine-negatives 0.25 --positive-ratio 0.45 --lung-ratio 0.15
  --synthetic-copies 3 --synthetic-kind-weights 0.2 0.6 0.2 --precision bf16 --loss tversky-ce --tversky-beta 0.7
  --keep-weights last"
bash scripts/train_zones.sh $W/model-B $W/train-B "Experiment (session 28): demo 0.10.0's networks trained 2,500 more steps with 60 % part-solid synthetic tumours. Trained on synthetic data, a demonstration, not for clinical use." $ARGS
echo TRAIN DONE
