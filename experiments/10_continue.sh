#!/usr/bin/env bash
# Step 10 (issue 10): all three arms continued from their checkpoint-3000 to 6,000 steps
# (6,000 x 16 x 128 = 12,288,000 tokens per arm), because at 6.1 M tokens the MLM arm's SST-2 probe did not
# separate from the random control. Every arm gets the same continuation: the same data order (the
# Trainer skips the 48,000 sequences already seen), masks, batch and restored optimizer state, and the linear
# schedule resumed at its 6,000-step value (5.2e-4 at step 3,000, decaying to 0 at 6,000). So the budget is
# "3,000 steps on a 3,000-step schedule, then 3,000 more on a 6,000-step schedule", identical for the arms.
# The MLM arm's continuation is the one 09_mlm_budget.sh made (experiments/runs/mlm_continue, 2 threads);
# this script makes the two hybrids' (one thread each, side by side) and skips any arm already at 6,000.
#   bash experiments/10_continue.sh                  # hybrid and hybrid_shared (and mlm if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
R=experiments/runs
arms=("$@"); [ ${#arms[@]} -eq 0 ] && arms=(hybrid hybrid_shared mlm)
for arm in "${arms[@]}"; do
  out=$R/${arm}_continue
  [ -f $out/training_summary.json ] && grep -q '"global_step": 6000' $out/trainer_state.json 2>/dev/null && continue
  mkdir -p $out
  [ -d $out/checkpoint-3000 ] || ls -d $out/checkpoint-* >/dev/null 2>&1 || cp -r $R/$arm/checkpoint-3000 $out/
  (
    start=$(date -u +%FT%TZ); t0=$(date +%s)
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python run_pretraining.py experiments/configs/cpu_${arm}.yaml \
      --output_dir $out --max_steps 6000 --save_total_limit 3 >> $R/${arm}_continue.log 2>&1 && rc=0 || rc=$?
    echo "{\"arm\": \"${arm}\", \"steps\": \"3000->6000\", \"threads\": 1, \"start\": \"${start}\", \"end\": \"$(date -u +%FT%TZ)\", \"wall_seconds\": $(( $(date +%s) - t0 )), \"rc\": ${rc}, \"host\": \"$(hostname)\", \"cpu\": \"$(lscpu | sed -n 's/^Model name: *//p') x $(nproc)\"}" > $R/${arm}_continue.walltime.json
  ) &
done
wait
# Records written by run_pretraining.py before commit deed55d (this run's three continuations) divided every token
# since step 0 by the continuation's wall time; add what that commit records (idempotent).
python - <<'PY'
import json, pathlib
for arm in ("hybrid", "hybrid_shared", "mlm"):
    p = pathlib.Path(f"experiments/runs/{arm}_continue/training_summary.json")
    if not p.exists():
        continue
    s = json.loads(p.read_text())
    if "tokens_this_run" in s:
        continue
    start = 3000
    s["resumed_from_step"] = start
    s["tokens_this_run"] = (s["steps"] - start) * s["global_batch_size"] * s["sequence_length"]
    s["tokens_per_second"] = round(s["tokens_this_run"] / s["wall_time_seconds"], 1)
    p.write_text(json.dumps(s, indent=2))
    print(f"{p}: resumed_from_step 3000, {s['tokens_this_run']:,} tokens this run, {s['tokens_per_second']} tokens/s")
PY
