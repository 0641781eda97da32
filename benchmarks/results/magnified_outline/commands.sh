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
# session 31, PLAN_after.md's decision on seeds 10200-10247 (0.10.0 maps: session 26's benchmark cache; zoomed maps:
# session 29's), then demo 0.12.0 and its held-out benchmark through the real pipeline (run on a copy at
# /work/train/s31/pkg, results copied to benchmarks/results/heldout48 and froc/heldout48; 0.11.0's moved to *-0.11.0):
OMP_NUM_THREADS=2 .venv/bin/python $E/decide_after.py $E/decision_after.json $P0 $M \
  benchmarks/results/zoom_tta/look_classifier.safetensors benchmarks/.cache/heldout-small-10200-48:$W/fresh3cache
P=LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom   # holding 0.11.0 (commit a5af424)
.venv/bin/python $E/make_package.py $P
.venv/bin/python benchmarks/heldout_phantoms.py --model $P --cases 48 --threads 2 --write-card \
  --out benchmarks/results/heldout48 --cache /work/train/s31/held48cache
.venv/bin/python benchmarks/froc_phantoms.py --model $P --data benchmarks/.cache/heldout-small-10000-48 \
  --cache /work/train/s31/held48cache --out benchmarks/results/froc/heldout48 --write-card froc_heldout_phantoms
# session 32, PLAN_rescue.md's decision on seeds 10300-10347. Their phantoms, 0.10.0 maps and 1.5x zoomed maps were made
# first (0.10.0: git archive 07cfe39 LungTumorSeg/Resources/Models into /work/train/s32/pkg0100; two 1-thread probes):
S=/work/train/s32; P0=$S/pkg0100/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom
D=benchmarks/.cache/heldout-small-10300-48
.venv/bin/python -c "import sys; sys.path.insert(0, 'LungTumorSeg'); from pathlib import Path; \
from lungtumorseg.phantoms import PhantomConfig, write_msd_dataset; \
write_msd_dataset(Path('$D'), 48, 10300, PhantomConfig(size='small'))"
A=$(python3 -c "print(','.join(f'lung_{i:03d}' for i in range(0,48,2)))")
B=$(python3 -c "print(','.join(f'lung_{i:03d}' for i in range(1,48,2)))")
export ZOOM_TTA_PACKAGE=$P0
OMP_NUM_THREADS=1 .venv/bin/python benchmarks/results/zoom_tta/zoom_probe.py 1.5 $S/probe_decA.json $S/zoommaps15 "$D:$S/fresh4cache:$A" &
OMP_NUM_THREADS=1 .venv/bin/python benchmarks/results/zoom_tta/zoom_probe.py 1.5 $S/probe_decB.json $S/zoommaps15 "$D:$S/fresh4cache:$B"
wait
# the decision, run from a worktree of commit 2ef54d1 (the rescue code, not kept on main after the decision failed;
# core 0.9.0, whose version is in the cached maps' key); then a diagnosis of what the product reviewed (look cut-off 0)
# and the gate's scoring (diagnosis_rescue.py) on the same 48 phantoms, both from that worktree:
OMP_NUM_THREADS=2 .venv/bin/python $E/decide_rescue.py $E/decision_rescue.json $P0 $S/zoommaps15 \
  benchmarks/results/zoom_tta/look_classifier.safetensors $D:$S/fresh4cache
OMP_NUM_THREADS=1 .venv/bin/python $E/diagnosis_rescue_after_decision.py $E/diagnosis_rescue_after_decision.json $P0 \
  $S/zoommaps15 benchmarks/results/zoom_tta/look_classifier.safetensors $D:$S/fresh4cache
OMP_NUM_THREADS=1 .venv/bin/python $E/diagnosis_rescue.py $E/diagnosis_rescue_fresh4.json $P0 $S/zoommaps15 \
  benchmarks/results/zoom_tta/look_classifier.safetensors $D:$S/fresh4cache
