#!/usr/bin/env bash
# Diagnostic (issue 10): is the SST-2 check failing because the probe sees only 2,000 training sentences (the
# run_glue_probe.py default used in step 3)? The 12.3 M-token MLM arm and the random control probed on SST-2
# alone with the whole train split (67,349 sentences), standard protocol, everything else as in step 3.
# Writes experiments/results/sst2_full_train/{results.json,report.md}; 13 min on one thread of this CPU.
#   bash experiments/17_probe_full_sst2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
R=experiments/runs/sst2_full_train
OMP_NUM_THREADS=1 python run_glue_probe.py --model_name_or_path experiments/runs/mlm_continue experiments/runs/random_init \
  --model_names mlm random_init --tasks sst2 --protocol standard --glue_dir /work/shared/data/glue --device cpu \
  --blas_threads 1 --max_train_samples 100000 --output_dir $R/standard --cache_dir $R/cache --no-plots \
  --trust_remote_code > $R/standard.log 2>&1
mkdir -p experiments/results/sst2_full_train
cp $R/standard/{results.json,report.md} experiments/results/sst2_full_train/
