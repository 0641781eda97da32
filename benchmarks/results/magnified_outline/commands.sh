#!/usr/bin/env bash
# The exact commands of this experiment (session 30). Maps: session 26's cached 0.10.0 maps of the 80 calibration
# phantoms and session 29's zoomed maps (../zoom_tta/commands.sh); working data is not committed.
set -euo pipefail
W=/work/train/s26; M=/work/train/s29/zoommaps15; E=benchmarks/results/magnified_outline
P0=/work/train/s30/pkg0100/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom   # demo 0.10.0 (commit 07cfe39)
# diagnosis (calibration set 1, no classifier, no outline growth):
OMP_NUM_THREADS=1 .venv/bin/python $E/diagnosis.py $W/calibration $W/calcache $M calibration $E/diagnosis_cal1.json
# the gate:
OMP_NUM_THREADS=1 .venv/bin/python $E/gate_join.py $E/gate_join.json $P0 $M benchmarks/results/zoom_tta/look_classifier.safetensors \
  $W/calibration:$W/calcache $W/calibration2:$W/cal2cache
# after the gate, a diagnosis for the next plan (join after the classifier's judgement), one process per set:
for s in calibration:calcache calibration2:cal2cache; do d=${s%%:*}; c=${s##*:}
  OMP_NUM_THREADS=1 .venv/bin/python $E/diagnosis_after.py /tmp/after_$d.json $P0 $M benchmarks/results/zoom_tta/look_classifier.safetensors \
    $W/$d:$W/$c &
done; wait   # copied to diagnosis_after_cal1.json / diagnosis_after_cal2.json
