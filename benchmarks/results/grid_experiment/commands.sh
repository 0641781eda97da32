#!/bin/bash
# Experiment C as run in session 13 (2026-11-24), from the repository root; see PLAN.md.
# Data: the 60 training phantoms (seeds 100-159) in DATA, the 40 calibration phantoms (seeds 160-199) in CAL:
#   lungtumorseg phantom DATA --cases 60 --seed 100 --size small --full-every 4 --msd --workers 2
#   lungtumorseg phantom CAL --cases 40 --seed 160 --size small --msd
DATA=${DATA:-/work/train/recipe/data}; CAL=${CAL:-/work/train/pp/gen40}; W=${W:-/work/train/s13}
COMMON="--demo --lung-channel --blob-channel --seed 8 --split-seed 3 --name lungtumorseg-grid-experiment
  --init-from LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom --lr 1.5e-4 --hard-negatives dense
  --positive-ratio 0.45 --lung-ratio 0.35"
# control arm: 1.5 mm grid, 48^3 windows (1 thread; ran beside the 1.0 mm preparation)
lungtumorseg train $DATA -o $W/c15/model --workdir $W/c15/run $COMMON --roi 48 --zone upper --steps 1500 \
  --val-every 500 --threads 1 --max-minutes 90
# grid arm: 1.0 mm grid, 64^3 windows (position embedding interpolated 27 -> 64 tokens)
lungtumorseg train $DATA -o $W/g10/model --workdir $W/g10/run $COMMON --spacing 1.0 --roi 64 --zone upper \
  --steps 1500 --val-every 500 --threads 2 --max-minutes 150
# calibration crops at both grids (upper zone kept in memory; every zone cached)
lungtumorseg train $CAL -o $W/cal15/model --workdir $W/cal15 $COMMON --roi 48 --prepare-only
lungtumorseg train $CAL -o $W/cal10/model --workdir $W/cal10 $COMMON --spacing 1.0 --roi 64 --zone upper --prepare-only
E=benchmarks/results/grid_experiment/zone_eval.py
THREADS=1 python $E LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom $W/cal15/cache-* 48 1.5 upper shipped_060.json
THREADS=1 python $E $W/c15/run/checkpoints/upper.pt $W/cal15/cache-* 48 1.5 upper control_15.json
# the grid arm's checkpoint as it was after the validation at step 1000 (best_state = the best validated so far)
THREADS=1 python $E $W/eval/g10_step1000.pt $W/cal10/cache-* 64 1.0 upper grid_10_step1000.json
python benchmarks/results/grid_experiment/compare.py shipped_0.6.0=shipped_060.json control_1.5mm=control_15.json \
  grid_1.0mm_step1000=grid_10_step1000.json

# ---- stage 2 (session 14, PLAN_three_zones.md): middle and lower with the grid arm's recipe, in parallel,
# into the same work folder (the upper checkpoint there is the grid arm's, finished at step 1,500)
for ZONE in middle lower; do
  lungtumorseg train $DATA -o $W/g10/model --workdir $W/g10/run $COMMON --spacing 1.0 --roi 64 --zone $ZONE \
    --steps 1500 --val-every 500 --threads 1 --max-minutes 150 &
done; wait
# collect the three finished zones into the candidate package (loads no crops: 6 s)
lungtumorseg train $DATA -o $W/candidate --workdir $W/g10/run ${COMMON/grid-experiment/grid-candidate} \
  --spacing 1.0 --roi 64 --steps 1500 --val-every 500 --threads 2 --max-minutes 150
# calibration on the first 20 calibration phantoms (time; see RESULTS.md): CAL20 = lung_000..019 of CAL (symlinks,
# dataset.json cut to 20); 0.6.0 re-calibrated on the same 20 from its earlier probability-map cache, on a copy
python scripts/calibrate_threshold.py --model $W/candidate --data $DATA --calibration-data $CAL20 \
  --cache $W/calcache --rule lesion-f1 --zone-limits --threads 2
cp -r LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom $W/p060copy
python scripts/calibrate_threshold.py --model $W/p060copy --data $DATA --calibration-data $CAL20 \
  --cache $W/calcache060 --rule lesion-f1 --zone-limits --threads 2

# ---- stage 3 (sessions 16-17, PLAN_stage3.md): middle and lower resumed from their stage-2 checkpoints with 20 % of
# the patches on their own mined false positives; 4,000-step horizon; from step 2,050 / 1,975 on with --precision bf16
COMMON3="$COMMON --lr 1.5e-4 --hard-negatives dense --positive-ratio 0.45 --lung-ratio 0.2 --mine-negatives 0.2"
for ZONE in middle lower; do
  OMP_NUM_THREADS=1 lungtumorseg train $DATA -o $W/g10/model --workdir $W/g10/run $COMMON3 --spacing 1.0 --roi 64 \
    --zone $ZONE --steps 4000 --val-every 500 --threads 1 --max-minutes 400 --precision bf16 &
done; wait
# candidate: stage 2's card and upper network, stage 3's best middle and lower weights
python benchmarks/results/grid_experiment/make_stage3_candidate.py $W/candidate $W/g10/run/checkpoints $W/cand3
# gate: probability maps of the 20 calibration phantoms (two 1-thread processes), then the FROC at p >= 0.10
for K in 0 1; do OMP_NUM_THREADS=1 python benchmarks/results/grid_experiment/fill_cache.py $W/cand3 $CAL20 $W/cand3_cache $K 2 & done; wait
python benchmarks/froc_phantoms.py --data $CAL20 --model $W/cand3 --cache $W/cand3_cache --threshold 0.10 --out stage3_froc
python benchmarks/froc_compare.py 0.6.1=stage2_froc/froc_061.json "stage 2=stage2_froc/froc_candidate_t010.json" \
  "stage 3=stage3_froc/froc.json" -o stage3_froc/compare.png

# ---- stage 4 (sessions 17-18, PLAN_stage4.md): upper resumed from its stage-1 checkpoint (step 1,500) with 20 % of the
# patches on its own mined false positives, bf16, 4,000-step horizon (stopped at 2,150 by the session end, resumed)
OMP_NUM_THREADS=2 lungtumorseg train $DATA -o $W/g10/model --workdir $W/g10/run $COMMON3 --spacing 1.0 --roi 64 \
  --zone upper --steps 4000 --precision bf16 --val-every 500 --threads 2 --max-minutes 400
# candidate: stage 2's card, stage 4's upper and stage 3's middle and lower best weights
python benchmarks/results/grid_experiment/make_stage3_candidate.py $W/candidate $W/g10/run/checkpoints $W/cand4 upper middle lower
for K in 0 1; do OMP_NUM_THREADS=1 python benchmarks/results/grid_experiment/fill_cache.py $W/cand4 $CAL20 $W/cand4_cache $K 2 & done; wait
python benchmarks/froc_phantoms.py --data $CAL20 --model $W/cand4 --cache $W/cand4_cache --threshold 0.10 --out stage4_froc
python benchmarks/froc_compare.py 0.6.1=stage2_froc/froc_061.json "stage 3=stage3_froc/froc.json" \
  "stage 4=stage4_froc/froc.json" -o stage4_froc/compare.png
