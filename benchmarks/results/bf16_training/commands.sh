#!/bin/bash
# bf16 training check (benchmarks/results/bf16_training/PLAN.md): Experiment D's fp32 control command,
# (a) with --precision bf16, (b) fp32 with seed 18 (the run-to-run yardstick); in parallel, 1 thread each.
cd /work/main
C="--demo --lung-channel --blob-channel --split-seed 3 --init-from LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom --lr 1.5e-4 --hard-negatives dense --positive-ratio 0.45 --lung-ratio 0.35 --roi 48 --zone lower --steps 1500 --val-every 500 --threads 1 --max-minutes 70"
for RUN in bf16 fp32s18; do mkdir -p /work/train/s17/bf16/$RUN; ln -sfn /work/train/s10/blob2/run/cache-22ccf0d0e076 /work/train/s17/bf16/$RUN/cache-22ccf0d0e076; done
OMP_NUM_THREADS=1 nohup .venv/bin/lungtumorseg train /work/train/recipe/data -o /work/train/s17/bf16/bf16/model --workdir /work/train/s17/bf16/bf16 --name bf16-check $C --seed 8 --precision bf16 > /work/train/s17/bf16/bf16.log 2>&1 &
OMP_NUM_THREADS=1 nohup .venv/bin/lungtumorseg train /work/train/recipe/data -o /work/train/s17/bf16/fp32s18/model --workdir /work/train/s17/bf16/fp32s18 --name fp32-seed18 $C --seed 18 > /work/train/s17/bf16/fp32s18.log 2>&1 &
# final weights of each run on the lower-zone crops of the 40 calibration phantoms
E=benchmarks/results/decoder_width_experiment/recall_eval.py
THREADS=1 python $E /work/train/s17/bf16/bf16/checkpoints/lower.pt 8 $CAL15_CACHE lower bf16_final.json final
THREADS=1 python $E /work/train/s17/bf16/fp32s18/checkpoints/lower.pt 8 $CAL15_CACHE lower fp32_seed18_final.json final
# the float32 seed-8 reference: ../decoder_width_experiment/fs8_final.json and fs8_train.log (Experiment D's control)
