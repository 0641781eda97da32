#!/usr/bin/env bash
# Reproduce / continue the demo model: phantom training data (seeds 100-159, deterministic),
# three zone UNETRs trained in parallel processes (CPU), then the package is assembled and
# evaluated on held-out phantoms (numbers written into its card).
#
#   bash scripts/train_demo_model.sh [MINUTES_PER_ZONE] [STEPS]
#
# Starts from the shipped demo weights (--init-from), so each run continues the training.
# The shipped package is replaced only at the end, after the evaluation.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-120}
STEPS=${2:-2000}
WORK=${WORK:-work/demo-training}
DATA=$WORK/data
PKG=LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom
PY=.venv/bin/python
export OMP_NUM_THREADS=1 PYTHONPATH=LungTumorSeg
mkdir -p "$WORK"
if [ ! -f "$DATA/dataset.json" ]; then
  $PY -m lungtumorseg.cli phantom "$DATA" --cases 60 --seed 100 --size small --full-every 4 --msd --workers 2
fi
rm -rf "$WORK/init" && cp -r "$PKG" "$WORK/init"
ARGS="$DATA -o $WORK/model --workdir $WORK/run --demo --name lungtumorseg-demo-phantom --version 0.1.0
      --lung-channel --init-from $WORK/init --steps $STEPS --max-minutes $MINUTES --val-every 100 --threads 1 --seed 3"
$PY -m lungtumorseg.cli train $ARGS --prepare-only
for zone in upper middle lower; do
  $PY -m lungtumorseg.cli train $ARGS --zone "$zone" > "$WORK/train_$zone.log" 2>&1 &
done
wait
$PY -m lungtumorseg.cli train $ARGS          # collects the three zones into $WORK/model
OMP_NUM_THREADS=2 $PY scripts/calibrate_threshold.py --model "$WORK/model" --data "$DATA"
OMP_NUM_THREADS=2 $PY benchmarks/heldout_phantoms.py --model "$WORK/model" --write-card
rm -rf "$PKG" && cp -r "$WORK/model" "$PKG"
echo "demo package updated: $PKG"
