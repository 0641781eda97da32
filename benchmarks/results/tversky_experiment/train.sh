#!/usr/bin/env bash
set -euo pipefail
cd /work/main
PY=.venv/bin/python
ARGS="/work/train/s19/data -o /work/train/s22/model-tversky --workdir /work/train/s22/run --demo --lung-channel --blob-channel
  --roi 48 --seed 22 --split-seed 3 --name lungtumorseg-demo-phantom --version 0.9.0-tversky
  --init-from LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom --steps 2500 --val-every 1250 --max-minutes 27
  --lr 1e-4 --threads 1 --hard-negatives dense --mine-negatives 0.25 --positive-ratio 0.45 --lung-ratio 0.15
  --synthetic-copies 3 --precision bf16 --loss tversky-ce --tversky-beta 0.7 --keep-weights last"
PY=$PY bash scripts/train_zones.sh /work/train/s22/model-tversky /work/train/s22/train "Experiment (session 22): demo 0.8.1's networks trained 2,500 more steps with a Tversky + cross-entropy loss (beta 0.7). Trained on synthetic data, a demonstration, not for clinical use." $ARGS
echo TRAIN DONE
