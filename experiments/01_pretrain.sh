#!/usr/bin/env bash
# Step 1 (issue 10): pre-train the three arms with identical budgets on 2015.en Wikipedia.
# The arms run at the same time, one process each, one BLAS/OpenMP thread each (on a busy 2-core CPU
# three single-threaded processes got ~1.6x the total throughput of one two-threaded process).
# Each writes experiments/runs/<arm>/ (export, training_summary.json, trainer_state.json, run_config.yaml)
# and experiments/runs/<arm>.log. Re-running resumes each arm from its last checkpoint (save_steps 100).
#   bash experiments/01_pretrain.sh            # all three
#   bash experiments/01_pretrain.sh mlm        # one arm
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p experiments/runs
arms=("$@"); [ ${#arms[@]} -eq 0 ] && arms=(hybrid hybrid_shared mlm)
for arm in "${arms[@]}"; do
  (
    start=$(date -u +%FT%TZ); t0=$(date +%s)
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 5 \
      python run_pretraining.py "experiments/configs/cpu_${arm}.yaml" >> "experiments/runs/${arm}.log" 2>&1 && rc=0 || rc=$?
    echo "{\"arm\": \"${arm}\", \"start\": \"${start}\", \"end\": \"$(date -u +%FT%TZ)\", \"wall_seconds\": $(( $(date +%s) - t0 )), \"rc\": ${rc}, \"host\": \"$(hostname)\", \"cpu\": \"$(lscpu | sed -n 's/^Model name: *//p') x $(nproc)\"}" > "experiments/runs/${arm}.walltime.json"
  ) &
done
wait
