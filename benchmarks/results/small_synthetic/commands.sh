#!/usr/bin/env bash
# The exact commands of the small-synthetic-tumours experiment (session 34). Working data is not
# committed; it regenerates from seeds. Run from the repository root.
set -euo pipefail
W=/work/train/s34
E=benchmarks/results/small_synthetic
P=benchmarks/results/partsolid_synthetic  # session 28's candidates, assembly and gate, reused unchanged
# The gate's arm A: 0.10.0's package (the shipped networks and candidate classifier, no magnified look):
mkdir -p $W/pkg0100 && git archive 07cfe39 LungTumorSeg/Resources/Models | tar -x -C $W/pkg0100
PKG=$W/pkg0100/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom
PH=".venv/bin/python -m lungtumorseg.cli phantom"
# 1. Training phantoms (the card's, seeds 100-159) and calibration phantoms (seeds 160-239):
$PH $W/data --cases 60 --seed 100 --size small --full-every 4 --msd --workers 2
$PH $W/calibration --cases 40 --seed 160 --size small --msd --workers 2
$PH $W/calibration2 --cases 40 --seed 200 --size small --msd --workers 2
# 2. Arm B (its crops prepared first, then three 1-thread training processes) and its package:
bash $E/train.sh
.venv/bin/python $P/assemble.py $PKG $W/model-B $W/package-B 0.13.0-small
# 3. Candidates of both arms on the 80 calibration phantoms (maps computed here, two 1-thread processes):
for arm in A B; do
  Q=$PKG; [ $arm = B ] && Q=$W/package-B
  OMP_NUM_THREADS=1 .venv/bin/python $P/candidates.py $Q $W/calibration $W/calcache-$arm $W/cand/$arm-cal1 &
  OMP_NUM_THREADS=1 .venv/bin/python $P/candidates.py $Q $W/calibration2 $W/cal2cache-$arm $W/cand/$arm-cal2
  wait
done
# 4. The gate (arms.json: both arms' counts; its "gate" entry is session 28's rule; gate.json: PLAN.md's) and the small-tumour diagnostic:
.venv/bin/python $P/gate.py $E/arms.json $PKG/candidate_check.safetensors $W/calibration,$W/calibration2 \
  --arm A $PKG $W/calcache-A,$W/cal2cache-A $W/cand/A-cal1,$W/cand/A-cal2 \
  --arm B $W/package-B $W/calcache-B,$W/cal2cache-B $W/cand/B-cal1,$W/cand/B-cal2 | tee $E/arms.log
.venv/bin/python $E/verdict.py $E/arms.json $E/gate.json | tee $E/gate.log
.venv/bin/python $E/small_responses.py $E/small_responses.json $W/calibration,$W/calibration2 \
  --arm A $PKG $W/calcache-A,$W/cal2cache-A --arm B $W/package-B $W/calcache-B,$W/cal2cache-B | tee $E/small_responses.log
