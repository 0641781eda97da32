#!/usr/bin/env bash
# The exact commands of the clinical-grid classifier experiment (session 40). Working data is
# not committed; it regenerates from seeds. W=/work/train/s40.
set -euo pipefail
W=/work/train/s40
E=benchmarks/results/classifier_clinical_grid
PH=".venv/bin/python -m lungtumorseg.cli phantom"
# 1. Full-size phantoms: mining M (natural mix) and G (80 % non-solid), calibration (seeds 160-199),
#    decision (seeds 10504-10551).
$PH $W/mining --cases 20 --seed 30000 --size full --msd --workers 2
$PH $W/ggo --cases 20 --seed 30100 --size full --msd --workers 2 --kind-weights 0.2 0.4 0.4
$PH $W/cal1 --cases 20 --seed 160 --size full --msd --workers 2
$PH $W/cal2 --cases 20 --seed 180 --size full --msd --workers 2
$PH $W/fresh --cases 48 --seed 10504 --size full --msd --workers 1
# 2. Normal maps of the shipped networks (two 1-thread processes; the fresh set is mapped in two
#    halves, fresh_a and fresh_b, folders whose dataset.json lists the first and second 24 cases).
OMP_NUM_THREADS=1 .venv/bin/python $E/maps.py $W/mining $W/maps 1
OMP_NUM_THREADS=1 .venv/bin/python $E/maps.py $W/ggo $W/maps/ggo 1
OMP_NUM_THREADS=1 .venv/bin/python $E/maps.py $W/cal1 $W/maps/cal1 1
OMP_NUM_THREADS=1 .venv/bin/python $E/maps.py $W/cal2 $W/maps/cal2 1
OMP_NUM_THREADS=1 .venv/bin/python $E/maps.py $W/fresh_a $W/maps/fresh 1
OMP_NUM_THREADS=1 .venv/bin/python $E/maps.py $W/fresh_b $W/maps/fresh 1
# 3. Candidates and the product's patches.
.venv/bin/python $E/extract.py $W/mining $W/maps $W/cand/mining
.venv/bin/python $E/extract.py $W/ggo $W/maps/ggo $W/cand/ggo
.venv/bin/python $E/extract.py $W/cal1 $W/maps/cal1 $W/cand/cal1
.venv/bin/python $E/extract.py $W/cal2 $W/maps/cal2 $W/cand/cal2
.venv/bin/python $E/extract.py $W/fresh $W/maps/fresh $W/cand/fresh
# 4. Arms B (from scratch) and C (fine-tuned from the shipped classifier) on all 40 mining phantoms.
mkdir -p $W/cand/mining_all && for d in mining ggo; do for f in $W/cand/$d/*.npz; do
  ln -sf $f $W/cand/mining_all/${d}_$(basename $f); done; done
A=LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom/candidate_check.safetensors
.venv/bin/python $E/train.py $W/cand/mining_all $W/B.safetensors | tee $E/train_B.log
.venv/bin/python $E/train.py $W/cand/mining_all $W/C.safetensors --init $A --epochs 10 --lr 3e-4 | tee $E/train_C.log
# 5. Gate (PLAN.md), then the decision only as PLAN.md allows.
.venv/bin/python $E/gate.py gate $A $W/B.safetensors $W/C.safetensors --cal $W/cand/cal1 $W/cand/cal2 --out $E/gate.json
.venv/bin/python $E/gate.py decide $A $W/B.safetensors $W/C.safetensors --cal $W/cand/cal1 $W/cand/cal2 \
  --fresh $W/cand/fresh --out $E/decision.json
