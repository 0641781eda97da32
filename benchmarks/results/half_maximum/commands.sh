#!/usr/bin/env bash
# Session 33: half-maximum outlines (PLAN.md). Run from the repository root of a worktree of commit 025aaf2
# (the product code was reverted after the decision failed). S is scratch space.
set -euo pipefail
S=/work/train/s33
E=benchmarks/results/half_maximum
# 0.10.0, the package whose networks 0.12.0 uses unchanged (the maps' cache key has no look)
git archive 07cfe39 LungTumorSeg/Resources/Models | tar -x -C $S/pkg0100   # or session 32's copy
P0=$S/pkg0100/LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom
LOOK=benchmarks/results/zoom_tta/look_classifier.safetensors

# development diagnoses on seeds 10300-10347 (session 32's phantoms and maps: magnified_outline/commands.sh)
.venv/bin/python $E/found_quality.py     # 0.12.0's final labels; how it outlines each found tumour
.venv/bin/python $E/halfmax.py           # four variants on those labels (mean Dice, recall/precision by kind)
.venv/bin/python $E/decide.py $E/development_10300.json $P0 /work/train/s32/zoommaps15 $LOOK \
  benchmarks/.cache/heldout-small-10300-48:/work/train/s32/fresh4cache

# the decision set: 32 fresh phantoms, their 0.10.0 maps and 1.5x zoomed maps (~35 min on 2 cores)
D=benchmarks/.cache/heldout-small-10400-32
.venv/bin/python -c "
import sys; sys.path.insert(0, 'LungTumorSeg')
from pathlib import Path
from lungtumorseg.phantoms import write_msd_dataset, PhantomConfig
write_msd_dataset(Path('$D'), 32, 10400, PhantomConfig(size='small'))"
export ZOOM_TTA_PACKAGE=$P0
A=$(python3 -c "print(','.join(f'lung_{i:03d}' for i in range(0,32,2)))")
B=$(python3 -c "print(','.join(f'lung_{i:03d}' for i in range(1,32,2)))")
OMP_NUM_THREADS=1 .venv/bin/python benchmarks/results/zoom_tta/zoom_probe.py 1.5 $S/probe_decA.json $S/zoommaps15 "$D:$S/fresh5cache:$A" &
OMP_NUM_THREADS=1 .venv/bin/python benchmarks/results/zoom_tta/zoom_probe.py 1.5 $S/probe_decB.json $S/zoommaps15 "$D:$S/fresh5cache:$B"
wait
.venv/bin/python $E/decide.py $E/decision_10400.json $P0 $S/zoommaps15 $LOOK $D:$S/fresh5cache
