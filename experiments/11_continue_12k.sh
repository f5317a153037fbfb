#!/usr/bin/env bash
# Step 11 (issue 10): the three arms continued again, from their step-6,000 checkpoints (10_continue.sh) to
# 12,000 steps (24,576,000 tokens per arm), because at 12.3 M tokens the MLM arm's SST-2 probe was still not
# above the random control after Holm. The same continuation for every arm, as in step 10: data order (the
# Trainer skips the 96,000 sequences already seen), masks, batch and optimizer state carry over; the linear
# schedule is recomputed for 12,000 steps, so it resumes at 5.2e-4 at step 6,000 and decays to 0 at 12,000.
# Three processes, one thread each; checkpoints every 250 steps, so a run cut short (a session's end)
# resumes where it stopped when the script is run again.
#   bash experiments/11_continue_12k.sh              # all three; an arm already at 12,000 is skipped
#   THREADS=2 bash experiments/11_continue_12k.sh mlm   # one arm with both cores (this run: MLM first, to see
#                                                     # whether 24.6 M tokens lifts its SST-2 probe)
set -euo pipefail
cd "$(dirname "$0")/.."
R=experiments/runs
arms=("$@"); [ ${#arms[@]} -eq 0 ] && arms=(hybrid hybrid_shared mlm)
for arm in "${arms[@]}"; do
  out=$R/${arm}_12k
  [ -f $out/training_summary.json ] && grep -q '"global_step": 12000' $out/trainer_state.json 2>/dev/null && continue
  mkdir -p $out
  ls -d $out/checkpoint-* >/dev/null 2>&1 || cp -r $R/${arm}_continue/checkpoint-6000 $out/
  (
    start=$(date -u +%FT%TZ); t0=$(date +%s)
    OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1} python run_pretraining.py experiments/configs/cpu_${arm}.yaml \
      --output_dir $out --max_steps 12000 --save_total_limit 2 >> $R/${arm}_12k.log 2>&1 && rc=0 || rc=$?
    echo "{\"arm\": \"${arm}\", \"steps\": \"->12000\", \"threads\": ${THREADS:-1}, \"start\": \"${start}\", \"end\": \"$(date -u +%FT%TZ)\", \"wall_seconds\": $(( $(date +%s) - t0 )), \"rc\": ${rc}, \"host\": \"$(hostname)\", \"cpu\": \"$(lscpu | sed -n 's/^Model name: *//p') x $(nproc)\"}" >> $R/${arm}_12k.walltime.jsonl
  ) &
done
wait
