#!/usr/bin/env bash
# Diagnostic (issue 10): how fast does the MLM arm's SST-2 probe rise with more tokens?
# Continues the MLM arm from its checkpoint-3000 as if it had been planned for 6,000 steps (same data order,
# masks, batch and optimizer state; the linear schedule resumes at its 6,000-step value, 5.2e-4 at step 3,000),
# one process with both cores, and probes the checkpoints of every 750th step on SST-2 (standard
# protocol, all four poolings) against the random control, paired, Holm over the four poolings.
# Not part of the three-arm comparison (only the MLM arm gets the extra tokens).
#   bash experiments/09_mlm_budget.sh          # after 01_pretrain.sh and 02_random_control.py
set -euo pipefail
cd "$(dirname "$0")/.."
R=experiments/runs
mkdir -p $R/mlm_continue $R/mlm_continue_probe
[ -d $R/mlm_continue/checkpoint-3000 ] || cp -r $R/mlm/checkpoint-3000 $R/mlm_continue/
probe() {  # $1 = step
  OMP_NUM_THREADS=1 python run_glue_probe.py --model_name_or_path $R/mlm_continue/checkpoint-$1 $R/random_init \
    --model_names mlm_$1 random_init --tasks sst2 --protocol standard --glue_dir /work/shared/data/glue \
    --device cpu --blas_threads 1 --cache_dir $R/probe/cache --output_dir $R/mlm_continue_probe/$1 --no-plots \
    > $R/mlm_continue_probe/$1.log 2>&1
}
OMP_NUM_THREADS=2 python run_pretraining.py experiments/configs/cpu_mlm.yaml --output_dir $R/mlm_continue \
  --max_steps 6000 --save_steps 750 --save_total_limit 10 > $R/mlm_continue.log 2>&1 &
train=$!
for step in 3000 3750 4500 5250 6000; do
  while [ ! -f $R/mlm_continue/checkpoint-$step/trainer_state.json ]; do
    kill -0 $train 2>/dev/null || break 2
    sleep 15
  done
  [ -f $R/mlm_continue_probe/$step/results.json ] || probe $step
done
wait $train
python - <<'PY'
import json, pathlib
rows = []
for d in sorted(pathlib.Path("experiments/runs/mlm_continue_probe").glob("*/results.json"), key=lambda p: int(p.parent.name)):
    r = json.loads(d.read_text())
    step = int(d.parent.name)
    name = f"mlm_{step}"
    cells = {c["pooling"]: c for c in r["comparisons"] if c["metric"] == "accuracy"}
    rows.append({
        "step": step, "tokens": step * 16 * 128,
        "sst2_accuracy": {p: r["results"][name]["sst2"][p]["accuracy"]["value"] for p in cells},
        "minus_random": {p: [c["diff"], c["ci_low"], c["ci_high"], c["p_holm"]] for p, c in cells.items()},
    })
print(json.dumps(rows, indent=2))
PY
