#!/usr/bin/env bash
# Step 3 (issue 10): probe the three arms and the random control on the real GLUE data, both protocols.
# Each model is analysed on its own as soon as it exists (experiments/03_probe.py --only NAME), then one
# combine step per protocol writes results.json, report.md and the plots; results are copied to
# experiments/results/probe_<protocol>/. Embeddings are cached under experiments/runs/probe/cache.
# Equivalent single command per protocol (same numbers, one process, needs all four models at once):
#   python run_glue_probe.py --model_name_or_path experiments/runs/{hybrid,mlm,hybrid_shared,random_init} \
#     --model_names hybrid mlm hybrid_shared random_init --protocol P --glue_dir /work/shared/data/glue \
#     --device cpu --output_dir experiments/runs/probe/P
#   bash experiments/03_probe.sh [model ...]     # default: all four, then combine
# The 12.3 M-token run (after 10_continue.sh; the random control's analysis is reused from the first run's
# state folder when its flags are the same):
#   ARM_SUFFIX=_continue PROBE_DIR=experiments/runs/probe_12m bash experiments/03_probe.sh
set -euo pipefail
cd "$(dirname "$0")/.."
P=${PROBE_DIR:-experiments/runs/probe}
RESULTS=${RESULTS_DIR:-experiments/results}
export ARM_SUFFIX=${ARM_SUFFIX:-}
FLAGS=(--glue_dir /work/shared/data/glue --device cpu --blas_threads 1 --cache_dir experiments/runs/probe/cache)
models=("$@"); [ ${#models[@]} -eq 0 ] && models=(random_init mlm hybrid_shared hybrid)
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$P"
for protocol in standard paper; do
  (
    for m in "${models[@]}"; do
      t0=$(date +%s)
      nice -n 5 python experiments/03_probe.py --only "$m" --protocol "$protocol" \
        --output_dir "$P/$protocol" "${FLAGS[@]}" >> "$P/${protocol}_${m}.log" 2>&1
      echo "{\"step\": \"probe ${protocol} ${m}\", \"end\": \"$(date -u +%FT%TZ)\", \"wall_seconds\": $(( $(date +%s) - t0 ))}" >> $P/walltimes.jsonl
    done
  ) &
done
wait
for protocol in standard paper; do
  t0=$(date +%s)
  nice -n 5 python experiments/03_probe.py --protocol "$protocol" --output_dir "$P/$protocol" \
    "${FLAGS[@]}" >> "$P/${protocol}_combine.log" 2>&1
  echo "{\"step\": \"probe ${protocol} combine\", \"end\": \"$(date -u +%FT%TZ)\", \"wall_seconds\": $(( $(date +%s) - t0 ))}" >> $P/walltimes.jsonl
  mkdir -p "$RESULTS/probe_$protocol"
  cp "$P/$protocol"/{results.json,report.md} "$RESULTS/probe_$protocol/"
  cp "$P/$protocol"/*.png "$RESULTS/probe_$protocol/" 2>/dev/null || true
done
