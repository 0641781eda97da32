#!/usr/bin/env bash
# The exact commands of the seed-threshold experiment (session 41). Working data is not committed;
# it regenerates from seeds. W=/work/train/s41; S40=/work/train/s40 holds session 40's full-size
# calibration phantoms (seeds 160-199), their normal maps and candidates
# (../classifier_clinical_grid/commands.sh). Map caches are keyed by the core version: these results
# used core 0.9.0's maps; core 0.9.1's maps are the same but keyed anew, so maps.py remakes them.
set -euo pipefail
W=/work/train/s41
S40=/work/train/s40
E=benchmarks/results/classifier_clinical_grid
PH=".venv/bin/python -m lungtumorseg.cli phantom"
# 1. Phantoms: fresh full-size decision set; the card's small-grid calibration phantoms.
$PH $W/fresh --cases 48 --seed 10552 --size full --msd --workers 2
$PH $W/scal1 --cases 40 --seed 160 --size small --msd --workers 2
$PH $W/scal2 --cases 40 --seed 200 --size small --msd --workers 2
# 2. Normal maps of the shipped networks, two 1-thread processes (the fresh set in two halves).
python3 benchmarks/results/seed_threshold/half.py $W/fresh a && python3 benchmarks/results/seed_threshold/half.py $W/fresh b  # fresh_a, fresh_b: the two halves
OMP_NUM_THREADS=1 .venv/bin/python $E/maps.py $W/scal1 $W/maps/scal1 1
OMP_NUM_THREADS=1 .venv/bin/python $E/maps.py $W/scal2 $W/maps/scal2 1
OMP_NUM_THREADS=1 .venv/bin/python $E/maps.py $W/fresh_a $W/maps/fresh 1
OMP_NUM_THREADS=1 .venv/bin/python $E/maps.py $W/fresh_b $W/maps/fresh 1
# 3. Candidates at the card threshold and at 0.2.
for s in scal1 scal2; do
  .venv/bin/python $E/extract.py $W/$s $W/maps/$s $W/cand/$s
  .venv/bin/python $E/extract.py $W/$s $W/maps/$s $W/cand_t0.2/$s 0.2
done
.venv/bin/python $E/extract.py $W/fresh $W/maps/fresh $W/cand/fresh
.venv/bin/python $E/extract.py $W/fresh $W/maps/fresh $W/cand_t0.2/fresh 0.2
# 4. Gate (PLAN.md), then the decision only if the gate passes (it failed: the decision and the fresh
#    set's candidates in step 3 were not run; its maps stopped at 27 of 48).
G="--small $W/cand/scal1:$W/cand_t0.2/scal1 $W/cand/scal2:$W/cand_t0.2/scal2
   --full $S40/cand/cal1:$S40/cand_t0.2/cal1 $S40/cand/cal2:$S40/cand_t0.2/cal2
   --dice $S40/cal1:$S40/maps/cal1:$S40/cand/cal1:$S40/cand_t0.2/cal1 $S40/cal2:$S40/maps/cal2:$S40/cand/cal2:$S40/cand_t0.2/cal2"
.venv/bin/python benchmarks/results/seed_threshold/gate.py gate $G --out benchmarks/results/seed_threshold/gate.json
.venv/bin/python benchmarks/results/seed_threshold/gate.py decide $G --fresh $W/cand/fresh:$W/cand_t0.2/fresh \
  --fresh-dice $W/fresh:$W/maps/fresh:$W/cand/fresh:$W/cand_t0.2/fresh --out benchmarks/results/seed_threshold/decision.json
# 5. Preview on session 40's already-used decision set (RESULTS.md; decides nothing).
.venv/bin/python $E/extract.py $S40/fresh $S40/maps/fresh $S40/cand_t0.2/fresh 0.2
.venv/bin/python benchmarks/results/seed_threshold/preview.py $S40/cand/fresh $S40/cand_t0.2/fresh
