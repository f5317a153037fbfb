#!/usr/bin/env bash
# Diagnostic (issue 10): does a larger batch leave the MLM loss plateau in fewer tokens? The MLM arm's
# configuration from step 0 with 64 sequences a step instead of 16, the same tokens (750 steps x 64 x 128 =
# 6,144,000, stage 1's budget), the same peak lr and a warm-up of the same tokens (60 steps), both cores.
# Its held-out masked-token cross-entropy (06_mlm_sanity.py) is compared with the stage-1 MLM arm's (7.20).
#   bash experiments/14_batch_diagnostic.sh
set -euo pipefail
cd "$(dirname "$0")/.."
R=experiments/runs
OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 python run_pretraining.py experiments/configs/cpu_mlm.yaml \
  --output_dir $R/batch64_diag --per_device_train_batch_size 64 --max_steps 750 --warmup_steps 60 \
  --logging_steps 5 --save_steps 250 > $R/batch64_diag.log 2>&1
python experiments/06_mlm_sanity.py $R/batch64_diag $R/mlm 2>/dev/null
