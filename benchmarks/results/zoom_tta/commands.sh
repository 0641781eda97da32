#!/usr/bin/env bash
# The exact commands of the magnified-look experiment (session 29). Working data is not committed;
# it regenerates from seeds. Run from the repository root. The calibration phantoms (seeds 160-239)
# and 0.10.0's cached maps of them are session 26's (see ../partsolid_synthetic/commands.sh).
set -euo pipefail
W=/work/train/s26; S=/work/train/s29; M=$S/zoommaps15
E=benchmarks/results/zoom_tta
# Steps 1-5 ran with the shipped demo 0.10.0; since 0.11.0 ships the look they need 0.10.0 given explicitly:
export ZOOM_TTA_PACKAGE=${ZOOM_TTA_PACKAGE:-/work/train/s30/pkg0100/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom}
PROBE="$E/zoom_probe.py 1.5"
# 1. Zoomed maps (two 1-thread processes; ~90 s per case each): the probe of the 13 cases first, then all 80.
OMP_NUM_THREADS=1 .venv/bin/python $PROBE $S/zoom15_a.json $M $W/calibration:$W/calcache:lung_011,lung_012,lung_014,lung_017,lung_025,lung_000 &
OMP_NUM_THREADS=1 .venv/bin/python $PROBE $S/zoom15_b.json $M $W/calibration2:$W/cal2cache:lung_001,lung_012,lung_018,lung_019,lung_020,lung_029,lung_031
wait
OMP_NUM_THREADS=1 .venv/bin/python $PROBE $S/zoom15_cal1.json $M "$W/calibration:$W/calcache:*" &
OMP_NUM_THREADS=1 .venv/bin/python $PROBE $S/zoom15_cal2.json $M "$W/calibration2:$W/cal2cache:*"
wait
# 2. The look's own classifier: candidates of the zoomed maps of calibration set 1, 0.10.0's classifier recipe.
OMP_NUM_THREADS=1 .venv/bin/python $E/magnified_candidates.py $M $S/mcand/cal1 $W/calibration:$W/calcache
.venv/bin/python benchmarks/results/candidate_classifier_experiment/classifier.py train $S/mcand/cal1 $S/look_classifier.safetensors
# 3. The gates on calibration set 2 (PLAN.md, addenda 2 and 3):
OMP_NUM_THREADS=1 .venv/bin/python $E/gate.py $E/gate_cal2_card.json $M card $W/calibration2:$W/cal2cache
OMP_NUM_THREADS=1 .venv/bin/python $E/gate.py $E/gate_cal2_own.json $M $S/look_classifier.safetensors $W/calibration2:$W/cal2cache
# 4. The decision on seeds 10200-10247 (0.10.0's maps of them: session 26's benchmark cache):
D=benchmarks/.cache/heldout-small-10200-48; DC=$W/fresh3cache
A=$(python3 -c "print(','.join(f'lung_{i:03d}' for i in range(0,48,2)))")
B=$(python3 -c "print(','.join(f'lung_{i:03d}' for i in range(1,48,2)))")
OMP_NUM_THREADS=1 .venv/bin/python $PROBE $S/probe_decA.json $M "$D:$DC:$A" &
OMP_NUM_THREADS=1 .venv/bin/python $PROBE $S/probe_decB.json $M "$D:$DC:$B"
wait
OMP_NUM_THREADS=2 .venv/bin/python $E/gate.py --decide 0.94 $E/decision.json $M $S/look_classifier.safetensors "$D:$DC"
# 5. The figure:
.venv/bin/python $E/figure.py $E/answered_magnified.png $M $W/calibration:$W/calcache:lung_011:3 \
  $W/calibration:$W/calcache:lung_025:2 $W/calibration2:$W/cal2cache:lung_001:1 $W/calibration2:$W/cal2cache:lung_029:2
# 6. Shipping (session 30): demo 0.11.0 = 0.10.0 + the look, then the card's held-out numbers through the real
#    pipeline (~76 s per phantom on 2 cores; the maps kept for the FROC) and the FROC from those maps. (Session 30
#    ran the benchmark on a copy at /work/train/s30/pkg with --out /work/train/s30/heldout48-0110 and copied the
#    results here; the card records that command.)
#    Since 0.12.0 shipped (session 31) these results are in benchmarks/results/heldout48-0.11.0 and
#    froc/heldout48-0.11.0.
P=LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom   # holding 0.10.0 (commit 07cfe39)
.venv/bin/python $E/make_package.py $P
.venv/bin/python benchmarks/heldout_phantoms.py --model $P --cases 48 --threads 2 --write-card \
  --out benchmarks/results/heldout48 --cache /work/train/s30/held48cache
.venv/bin/python benchmarks/froc_phantoms.py --model $P --data benchmarks/.cache/heldout-small-10000-48 \
  --cache /work/train/s30/held48cache --out benchmarks/results/froc/heldout48 --write-card froc_heldout_phantoms
