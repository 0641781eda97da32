#!/usr/bin/env bash
# The exact commands of the classifier-more-data experiment (session 27). Working data is not
# committed; it regenerates from seeds. W=/work/train/s27. C=0.10.0 experiment scripts.
set -euo pipefail
W=/work/train/s27
C=benchmarks/results/candidate_classifier_experiment
E=benchmarks/results/classifier_more_data
PH=".venv/bin/python -m lungtumorseg.cli phantom"
# 1. Mining phantoms: N (natural mix, seeds 300-379) and G (80 % non-solid, seeds 700-779).
$PH $W/mining --cases 60 --seed 300 --size small --msd --workers 2
$PH $W/miningb --cases 20 --seed 360 --size small --msd --workers 2
$PH $W/ggo --cases 80 --seed 700 --size small --msd --workers 2 --kind-weights 0.2 0.4 0.4
# 2. 0.10.0's maps of them (two 1-thread processes; stopped at 13:45, PLAN.md).
OMP_NUM_THREADS=1 .venv/bin/python $C/maps.py $W/mining $W/miningcache 1   # then $W/miningb $W/miningbcache
OMP_NUM_THREADS=1 .venv/bin/python $C/maps.py $W/ggo $W/ggocache 1
# 3. Candidates and patches (cases without a cached map are skipped); calibration and held-out
#    maps are session 26's caches of the same networks.
.venv/bin/python $C/extract.py $W/mining $W/miningcache $W/cand/mining
.venv/bin/python $C/extract.py $W/miningb $W/miningbcache $W/cand/miningb
.venv/bin/python $C/extract.py $W/ggo $W/ggocache $W/cand/ggo
S26=/work/train/s26
.venv/bin/python $C/extract.py $S26/calibration $S26/calcache $W/cand/cal1
.venv/bin/python $C/extract.py $S26/calibration2 $S26/cal2cache $W/cand/cal2
.venv/bin/python $C/extract.py benchmarks/.cache/heldout-small-10000-48 $S26/held48cache $W/cand/held48
.venv/bin/python $C/extract.py benchmarks/.cache/heldout-small-10200-48 $S26/fresh3cache $W/cand/fresh48
# 4. Train on all 160 mining phantoms' candidates (train_counts.json), then the gate (PLAN.md).
mkdir -p $W/cand/mining_all && for d in mining miningb ggo; do for f in $W/cand/$d/*.npz; do
  cp $f $W/cand/mining_all/${d}_$(basename $f); done; done
.venv/bin/python $C/classifier.py train $W/cand/mining_all $W/classifier.safetensors | tee $E/train.log
OLD=LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom/candidate_check.safetensors
(cd $E && ../../../.venv/bin/python compare.py gate ../../../$OLD $W/classifier.safetensors \
  --cal $W/cand/cal1 $W/cand/cal2 --out gate.json)                 # failed: no decision run
# 5. Diagnosis only, on the card's 48 (the fresh seeds 10200-10247 stay untouched):
(cd $E && ../../../.venv/bin/python diagnose_heldout.py ../../../$OLD $W/classifier.safetensors gate.json \
  $W/cand/held48 heldout48_diagnosis.json)
# 6. Diagnosis: how the networks answer each kind of tumour on the 160 mining phantoms.
.venv/bin/python $E/response_by_kind.py $E/response_by_kind.json $W/mining:$W/miningcache \
  $W/miningb:$W/miningbcache $W/ggo:$W/ggocache
# 7. The shipped card's metrics.candidate_cutoff_calibration (what each cut-off buys on calibration):
.venv/bin/python $C/cutoff_points.py LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom \
  $W/cand/cal1 $W/cand/cal2 --write-card
