#!/usr/bin/env bash
# Arm F of PLAN.md: the shipped zone networks + 2,500 steps of the card's recipe with fresh tumours drawn
# into 30 % of the patches instead of fixed synthetic copies. Run from the repository root. Training
# phantoms: seeds 100-159 (../small_synthetic/commands.sh makes them); their prepared crops are shared
# with session 34's run (the same preparation parameters, so the same cache key).
set -euo pipefail
W=/work/train/s34 S=/work/train/s35
mkdir -p $S/run-F
[ -e $S/run-F/cache-22ccf0d0e076 ] || ln -s $W/run-B/cache-22ccf0d0e076 $S/run-F/cache-22ccf0d0e076
ARGS="$W/data -o $S/model-F --workdir $S/run-F --demo --lung-channel --blob-channel
  --roi 48 --seed 35 --split-seed 3 --name lungtumorseg-demo-phantom --version 0.13.0-fresh
  --init-from LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom --steps 2500 --val-every 1250 --max-minutes 45
  --lr 1e-4 --threads 1 --hard-negatives dense --fresh-tumours 0.3 --positive-ratio 0.25 --mine-negatives 0.35
  --lung-ratio 0.2 --precision bf16 --loss tversky-ce --tversky-beta 0.7 --keep-weights last"
bash scripts/train_zones.sh $S/model-F $S/train-F "Experiment (session 35): demo 0.12.0's networks trained 2,500 more steps with fresh tumours drawn into 30 % of the patches instead of fixed synthetic copies. Trained on synthetic data, a demonstration, not for clinical use." $ARGS
echo TRAIN DONE
