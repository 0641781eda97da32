# Record of the commands that produced this experiment (session 12, paths of that machine;
# training data: lungtumorseg phantom DIR --cases 60 --seed 100 --size small --full-every 4 --msd;
# calibration data: --cases 40 --seed 160 --size small --msd). Not part of the recipe.
#!/usr/bin/env bash
# Session 12: 0.6.0's zone networks trained further with one faint-tumour copy of every training
# case with tumour (ground-glass / part-solid look), then calibration and held-out.
set -euo pipefail
cd /work/main
export PYTHONPATH=LungTumorSeg
W=/work/train/s12/faint
DESC="$(cat $W/description.txt)"
ARGS=(/work/train/recipe/data -o $W/model --workdir $W/run --demo --lung-channel --blob-channel --roi 48 --seed 7 --split-seed 3
      --name lungtumorseg-demo-phantom --version 0.7.0 --init-from LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom
      --steps 2400 --val-every 600 --max-minutes 50 --lr 1.5e-4 --threads 1 --hard-negatives dense
      --mine-negatives 0.2 --positive-ratio 0.45 --lung-ratio 0.2 --faint-copies 1 --description "$DESC")
export OMP_NUM_THREADS=2
.venv/bin/python -m lungtumorseg.cli train "${ARGS[@]}" --prepare-only > $W/prepare.log 2>&1
export OMP_NUM_THREADS=1
for zone in upper middle lower; do
  .venv/bin/python -m lungtumorseg.cli train "${ARGS[@]}" --zone $zone > $W/train_$zone.log 2>&1 &
done
wait
.venv/bin/python -m lungtumorseg.cli train "${ARGS[@]}" > $W/collect.log 2>&1
echo done > $W/TRAINED
export OMP_NUM_THREADS=2
.venv/bin/python scripts/calibrate_threshold.py --model $W/model --data /work/train/recipe/data \
  --calibration-data /work/train/pp/gen40 --cache $W/calcache --rule lesion-f1 --zone-limits \
  > $W/calibrate.log 2>&1
.venv/bin/python benchmarks/heldout_phantoms.py --model $W/model --cases 16 --out $W/heldout > $W/heldout.log 2>&1
echo done > $W/CHAIN_DONE
