#!/usr/bin/env bash
# The exact commands of the candidate-classifier experiment (session 24). Working data is not
# committed; it regenerates from seeds. W=/work/train/s24.
set -euo pipefail
W=/work/train/s24
E=benchmarks/results/candidate_classifier_experiment
# 1. Mining phantoms (seeds 300-379 and 380-459) and 0.9.0's maps of them (maps.py: the
#    probability cache of the calibration scripts, filled case by case). Stopped at 07:05 (PLAN.md).
.venv/bin/python -m lungtumorseg.cli phantom $W/mining --cases 80 --seed 300 --size small --msd --workers 2
.venv/bin/python -m lungtumorseg.cli phantom $W/mining2 --cases 80 --seed 380 --size small --msd --workers 2
OMP_NUM_THREADS=2 .venv/bin/python $E/maps.py $W/mining $W/miningcache 2 &
OMP_NUM_THREADS=1 .venv/bin/python $E/maps.py $W/mining2 $W/mining2cache 1
# 2. Candidates and patches (cases without a cached map are skipped).
.venv/bin/python $E/extract.py $W/mining $W/miningcache $W/cand/mining
.venv/bin/python $E/extract.py $W/mining2 $W/mining2cache $W/cand/mining2
.venv/bin/python $E/extract.py /work/train/s19/calibration /work/train/s22/calcache-tversky $W/cand/cal1
.venv/bin/python $E/extract.py /work/train/s21/calibration2 /work/train/s22/cal2cache-tversky $W/cand/cal2
.venv/bin/python $E/extract.py benchmarks/.cache/heldout-small-10000-48 /work/train/s23/held48cache-090 $W/cand/held48
# 3. Train on all mining candidates, score the calibration and held-out candidates, the gate.
mkdir -p $W/cand/mining_all && cp $W/cand/mining/*.npz $W/cand/mining_all/ \
  && for f in $W/cand/mining2/*.npz; do cp $f $W/cand/mining_all/m2_$(basename $f); done
.venv/bin/python $E/classifier.py train $W/cand/mining_all $W/classifier.safetensors | tee $E/train.log
.venv/bin/python $E/classifier.py score $W/classifier.safetensors $W/cand/cal1 $W/cand/cal2 $W/cand/held48
.venv/bin/python $E/gate.py $W/cand/cal1 $W/cand/cal2 --out $E/gate.json
# 4. The first held-out check (PLAN.md: at the maximum-F1 cut-off; failed its rule):
.venv/bin/python $E/gate.py $W/cand/cal1 $W/cand/cal2 --heldout $W/cand/held48 --out $E/gate_and_heldout.json
# 5. v2 (PLAN.md addendum): 48 fresh held-out phantoms (seeds 10100-10147), 0.9.0's full benchmark keeping its maps
#    (run from a checkout of the commit before the pipeline change), their candidates, the decision.
OMP_NUM_THREADS=2 .venv/bin/python benchmarks/heldout_phantoms.py --cases 48 --seed 10100 --threads 2 \
  --out $W/fresh48-090 --cache $W/fresh48cache
.venv/bin/python $E/extract.py benchmarks/.cache/heldout-small-10100-48 $W/fresh48cache $W/cand/fresh48
.venv/bin/python $E/classifier.py score $W/classifier.safetensors $W/cand/fresh48
(cd $E && ../../../.venv/bin/python decide_v2.py $W/cand/fresh48 v2_decision.json $W/cand/held48)
# 6. The package (demo 0.10.0) and its held-out benchmark on the card's 48 phantoms:
.venv/bin/python $E/build_package.py LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom $W/pkg-0.10.0 \
  $W/classifier.safetensors 0.4891751557588577 $E/gate.json
OMP_NUM_THREADS=2 .venv/bin/python benchmarks/heldout_phantoms.py --model $W/pkg-0.10.0 --cases 48 --write-card \
  --out benchmarks/results/heldout48
