#!/usr/bin/env bash
# The exact commands of the from-scratch pilot (session 42; PLAN.md). Working data is not committed;
# it regenerates from seeds. Run from the repository root.
set -euo pipefail
W=/work/train/s42
E=benchmarks/results/from_scratch
export PYTHONPATH=LungTumorSeg
PY=.venv/bin/python
# Training phantoms: the card's (seeds 100-159).
$PY -m lungtumorseg.cli phantom $W/data --cases 60 --seed 100 --size small --full-every 4 --msd --workers 2
# Arm P: one UNETR from random weights, 40 % fresh-tumour patches.
OMP_NUM_THREADS=2 $PY -m lungtumorseg.cli train $W/data -o $W/model-P --workdir $W/run-P \
  --name lungtumorseg-from-scratch-pilot --version 0.0.1 --single-model --demo --lung-channel --blob-channel \
  --roi 48 --seed 42 --split-seed 3 --fresh-tumours 0.4 --positive-ratio 0.35 --hard-negatives dense \
  --lung-ratio 0.4 --loss tversky-ce --tversky-beta 0.7 --keep-weights last --precision bf16 \
  --lr 3e-4 --steps 14000 --val-every 3500 --max-minutes 125 --threads 2 > $W/train-P.log 2>&1
# Arm P's normal maps of the 40 small calibration phantoms (seeds 160-199, session 41's folder), then the rule.
# Arm A's maps are session 41's (classifier_clinical_grid/maps.py with the shipped package, key v0.9.0).
OMP_NUM_THREADS=2 $PY benchmarks/results/classifier_clinical_grid/maps.py /work/train/s41/scal1 $W/maps-P 2 $W/model-P
OMP_NUM_THREADS=2 $PY $E/compare.py $E/compare.json /work/train/s41/scal1 --arm A /work/train/s41/maps/scal1 \
  --arm P $W/maps-P > $E/compare.log
