#!/usr/bin/env bash
# Step 12 (issue 10): the MLM arm at 12,000 steps (24.6 M tokens, 11_continue_12k.sh) against the random control,
# all five tasks, both protocols, before the hybrids reach 12,000 steps: does the doubled budget lift the
# MLM's SST-2 probe above the control (Holm over the same 20 task x pooling cells as the full report)?
# The random control's analysis is the first run's (same flags). Writes experiments/results/mlm_12k/ (each
# protocol's results.json and report.md) and prints the MLM-minus-random SST-2 cells as JSON.
#   bash experiments/12_probe_mlm_12k.sh
# SUFFIX picks another budget of the MLM arm alone: SUFFIX=_24k probes experiments/runs/mlm_24k (49.2 M tokens,
# 16_continue_24k.sh) into experiments/results/mlm_24k/.
set -euo pipefail
cd "$(dirname "$0")/.."
SUFFIX=${SUFFIX:-_12k}
P=experiments/runs/probe_mlm$SUFFIX
RES=experiments/results/mlm$SUFFIX
FLAGS=(--glue_dir /work/shared/data/glue --device cpu --blas_threads 1 --cache_dir experiments/runs/probe/cache --no-plots)
export PROBE_NAMES=mlm,random_init ARM_SUFFIX=$SUFFIX OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for protocol in standard paper; do
  (
    mkdir -p $P/$protocol/state $RES/probe_$protocol
    cp -n experiments/runs/probe/$protocol/state/random_init.pkl $P/$protocol/state/
    python experiments/03_probe.py --protocol $protocol --output_dir $P/$protocol "${FLAGS[@]}" > $P/$protocol.log 2>&1
    cp $P/$protocol/{results.json,report.md} $RES/probe_$protocol/
  ) &
done
wait
RES=$RES python - <<'PY'
import json, os, pathlib
out = {}
for protocol in ("standard", "paper"):
    r = json.loads(pathlib.Path(os.environ["RES"], f"probe_{protocol}", "results.json").read_text())
    out[protocol] = {
        c["pooling"]: {k: c[k] for k in ("diff", "ci_low", "ci_high", "p_holm", "significant")}
        for c in r["comparisons"]
        if (c["model_a"], c["model_b"], c["task"], c["metric"]) == ("mlm", "random_init", "sst2", "accuracy")
    }
print(json.dumps(out, indent=2))
PY
