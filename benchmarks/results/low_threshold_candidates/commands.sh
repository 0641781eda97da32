#!/usr/bin/env bash
# The exact commands of the lower-threshold candidate experiment (session 25). Working data is
# not committed; it regenerates from seeds (the mining and calibration phantoms and 0.9.0's maps
# of them: ../candidate_classifier_experiment/commands.sh steps 1-2, ../tversky_experiment/).
# W=/work/train/s24 (session 24's data), S=/work/train/s25.
set -euo pipefail
W=/work/train/s24
S=/work/train/s25
E=benchmarks/results/candidate_classifier_experiment
L=benchmarks/results/low_threshold_candidates
# 0. Fresh held-out phantoms (seeds 10200-10247) and 0.10.0's full benchmark on them, keeping the maps.
OMP_NUM_THREADS=1 .venv/bin/python benchmarks/heldout_phantoms.py --cases 48 --seed 10200 --threads 1 \
  --out $S/fresh3-0100 --cache $S/fresh3cache
# 1. More mining maps (stopped when training started: 138 of 160 mining phantoms have maps).
OMP_NUM_THREADS=1 .venv/bin/python $E/maps.py $W/mining $W/miningcache 1
# 2. Candidates at 0.30 (calibration and mining phantoms).
.venv/bin/python $E/extract.py /work/train/s19/calibration /work/train/s22/calcache-tversky $S/cand30/cal1 0.3
.venv/bin/python $E/extract.py /work/train/s21/calibration2 /work/train/s22/cal2cache-tversky $S/cand30/cal2 0.3
.venv/bin/python $E/extract.py $W/mining $W/miningcache $S/cand30/mining 0.3
.venv/bin/python $E/extract.py $W/mining2 $W/mining2cache $S/cand30/mining2 0.3
# 3. The classifier on the 138 mining phantoms' candidates at 0.30; scores of the calibration candidates.
mkdir -p $S/cand30/mining_all && cp $S/cand30/mining/*.npz $S/cand30/mining_all/ \
  && for f in $S/cand30/mining2/*.npz; do cp $f $S/cand30/mining_all/m2_$(basename $f); done
.venv/bin/python $E/classifier.py train $S/cand30/mining_all $S/classifier30.safetensors | tee $L/train.log
.venv/bin/python $E/classifier.py score $S/classifier30.safetensors $S/cand30/cal1 $S/cand30/cal2
# 4. The gate (arm A's candidates and scores: session 24's $W/cand/cal1, cal2).
# (Session 25 was cut off by a machine shutdown at phantom 67 of 80 of the pipeline-level part: RESULTS.md.)
.venv/bin/python $L/gate_low.py --a $W/cand/cal1 $W/cand/cal2 --b $S/cand30/cal1 $S/cand30/cal2 \
  --weights $S/classifier30.safetensors --out $L/gate.json | tee $L/gate.log
