#!/usr/bin/env bash
# Step 10 (issue 10): continue the arms from one checkpoint to a longer budget, the same way for every arm: the
# same data order (the Trainer skips the sequences already seen), masks, batch and restored optimizer, EMA and
# balance state, and the linear schedule recomputed for the new number of steps (from 3,000 to 6,000 it resumes
# at 5.2e-4 and decays to 0 at 6,000). So the budget is "3,000 steps on a 3,000-step schedule, then 3,000 more on
# a 6,000-step schedule", identical for the arms. Defaults: step 3,000 of experiments/runs/<arm>/ to 6,000 steps
# (12,288,000 tokens per arm) in experiments/runs/<arm>_continue/; 11_continue_12k.sh sets FROM/TO/SRC/DST for the
# next doubling. One process per arm, THREADS threads each (default 1), side by side; an arm already at TO is
# skipped, and one cut short resumes from its last checkpoint (every 250 steps) when the script is run again.
# Each process appends its wall time to experiments/runs/<arm><DST>.walltime.jsonl.
# The MLM arm's 3,000 -> 6,000 continuation is the one 09_mlm_budget.sh made (experiments/runs/mlm_continue).
#   bash experiments/10_continue.sh                  # hybrid and hybrid_shared (and mlm if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
R=experiments/runs
FROM=${FROM:-3000} TO=${TO:-6000} SRC=${SRC:-} DST=${DST:-_continue} THREADS=${THREADS:-1}
arms=("$@"); [ ${#arms[@]} -eq 0 ] && arms=(hybrid hybrid_shared mlm)
for arm in "${arms[@]}"; do
  out=$R/${arm}${DST}
  [ -f $out/training_summary.json ] && grep -q "\"global_step\": $TO" $out/trainer_state.json 2>/dev/null && continue
  mkdir -p $out
  ls -d $out/checkpoint-* >/dev/null 2>&1 || cp -r $R/${arm}${SRC}/checkpoint-$FROM $out/
  (
    start=$(date -u +%FT%TZ); t0=$(date +%s)
    OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS python run_pretraining.py experiments/configs/cpu_${arm}.yaml \
      --output_dir $out --max_steps $TO --save_total_limit 3 >> $R/${arm}${DST}.log 2>&1 && rc=0 || rc=$?
    echo "{\"arm\": \"${arm}\", \"steps\": \"${FROM}->${TO}\", \"threads\": ${THREADS}, \"start\": \"${start}\", \"end\": \"$(date -u +%FT%TZ)\", \"wall_seconds\": $(( $(date +%s) - t0 )), \"rc\": ${rc}, \"host\": \"$(hostname)\", \"cpu\": \"$(lscpu | sed -n 's/^Model name: *//p') x $(nproc)\"}" >> $R/${arm}${DST}.walltime.jsonl
  ) &
done
wait
# Records written by run_pretraining.py before commit deed55d (this run's three 3,000 -> 6,000 continuations)
# divided every token since step 0 by the continuation's wall time; add what that commit records (idempotent).
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
