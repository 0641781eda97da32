#!/usr/bin/env bash
# train_zones.sh OUT LOG_PREFIX DESCRIPTION TRAIN_ARGS...: one zone-model package trained the way every
# demo stage and experiment is trained on 2 cores. The zone crops are prepared once, then one 1-thread
# process per zone trains in parallel (logs LOG_PREFIX_<zone>.log), then a run without --zone collects
# the three zones into the package OUT (TRAIN_ARGS must hold "-o OUT"). Skipped when OUT exists; each
# process resumes its checkpoints. Run from the repository root; PY overrides the interpreter.
set -euo pipefail
out=$1 log=$2 description=$3
shift 3
PY=${PY:-.venv/bin/python}
[ -f "$out/model.json" ] && exit 0
OMP_NUM_THREADS=2 $PY -m lungtumorseg.cli train "$@" --prepare-only
for zone in upper middle lower; do
  OMP_NUM_THREADS=1 $PY -m lungtumorseg.cli train "$@" --zone "$zone" > "${log}_$zone.log" 2>&1 &
done
wait
$PY -m lungtumorseg.cli train "$@" --description "$description"
