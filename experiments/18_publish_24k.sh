#!/usr/bin/env bash
# Step 18 (issue 10): the comparison at 49.2 M tokens per arm, once the three arms have reached 24,000 steps
# (11_continue_12k.sh, then 16_continue_24k.sh). Steps 3'-7' of experiments/README.md for that budget:
#  1. the 12.3 M-token results (probe reports, records, cards, summary) move to results/stage2_12m/, a stage
#     like results/stage1_6m/ (once; `git mv`, so the history follows them);
#  2. each arm's records of the 6,000 -> 12,000 stage go to results/stage3_25m/training/ and of the
#     12,000 -> 24,000 stage to results/training/ (summary, resolved config, trainer state, the wall time of
#     every process that trained it, the training log without its progress bars);
#  3. probe the 24,000-step exports and the random control, both protocols (03_probe.sh), and the same for
#     the 12,000-step exports (into results/stage3_25m/). The control's and the MLM arm's analyses are reused
#     from the first probe and from 12_probe_mlm_12k.sh (SUFFIX=_24k and _12k): the same models, the same
#     flags (plots are drawn at the combine step), so the same numbers;
#  4. the order check (07_check_order.py) at every step an arm resumed from after step 3,000, read from the
#     training logs ("resuming from .../checkpoint-N"): results/stage3_25m/order_check_<N>.json for the
#     resumes before step 12,000, results/order_check_<N>.json for the others;
#  5. SUMMARY.md and the README block for the three budgets (04_summarize.py), which list those checks, the
#     model cards (05_cards.py), the MLM sanity of the 24,000- and 12,000-step exports (06_mlm_sanity.py).
# Every step is idempotent; rerunning after a failure redoes only what is missing (the probe reuses its
# state folder). Wall time of each step in experiments/runs/probe_49m/walltimes.jsonl.
#   bash experiments/18_publish_24k.sh
set -euo pipefail
cd "$(dirname "$0")/.."
R=experiments/runs
RES=experiments/results
ARMS=(hybrid hybrid_shared mlm)
for arm in "${ARMS[@]}"; do
  grep -q '"global_step": 24000' $R/${arm}_24k/trainer_state.json 2>/dev/null ||
    { echo "error: $R/${arm}_24k is not at 24,000 steps; run bash experiments/16_continue_24k.sh ${arm}" >&2; exit 1; }
done
stamp() { echo "{\"step\": \"$1\", \"end\": \"$(date -u +%FT%TZ)\", \"wall_seconds\": $(( $(date +%s) - $2 ))}" >> $R/probe_49m/walltimes.jsonl; }
mkdir -p $R/probe_49m

# 1. the 12.3 M-token run becomes a stage
if [ ! -d $RES/stage2_12m ]; then
  mkdir -p $RES/stage2_12m
  git mv $RES/{probe_standard,probe_paper,training,cards,SUMMARY.md,README_block.md,mlm_sanity.json} $RES/stage2_12m/
  git mv $RES/{order_check_3000.json,probe_walltimes.jsonl} $RES/stage2_12m/
fi

# 2. records of the two later stages
strip_bars() { python -c 'import re, sys
for piece in re.split(r"[\r\n]", sys.stdin.read()):
    at = piece.find("{\x27")
    if at >= 0:
        print(piece[at:])
    elif piece.strip() and not re.match(r"\s*\d+%\|", piece):
        print(piece)'; }
for stage in stage3_25m/training:_12k training:_24k; do
  dir=$RES/${stage%%:*} suffix=${stage##*:}
  mkdir -p $dir
  for arm in "${ARMS[@]}"; do
    cp $R/${arm}${suffix}/training_summary.json $dir/${arm}_training_summary.json
    cp $R/${arm}${suffix}/run_config.yaml $dir/${arm}_run_config.yaml
    cp $R/${arm}${suffix}/trainer_state.json $dir/${arm}_trainer_state.json
    cp $R/${arm}${suffix}.walltime.jsonl $dir/${arm}_walltime.jsonl
    strip_bars < $R/${arm}${suffix}.log > $dir/${arm}_train.log
  done
done

# 3. probe: the random control's and the MLM arm's analyses seeded from earlier runs, then 03_probe.sh
probe_budget() {  # ARM_SUFFIX PROBE_DIR MLM_STATE_RUN RESULTS_DIR
  for protocol in standard paper; do
    mkdir -p $2/$protocol/state
    for m in probe/$protocol/state/random_init $3/$protocol/state/mlm; do
      [ -f $2/$protocol/state/${m##*/}.pkl ] || [ ! -f $R/$m.pkl ] || cp $R/$m.pkl $2/$protocol/state/
    done
  done
  ARM_SUFFIX=$1 PROBE_DIR=$2 RESULTS_DIR=$4 bash experiments/03_probe.sh
  cp $2/walltimes.jsonl $4/probe_walltimes.jsonl
}
probe_budget _24k $R/probe_49m probe_mlm_24k $RES
# the same at 12,000 steps (24.6 M tokens), unless done already (the fifth session did it beside the training)
[ -f $RES/stage3_25m/probe_paper/results.json ] || probe_budget _12k $R/probe_25m probe_mlm_12k $RES/stage3_25m

# 4. order checks at every resume after step 3,000 (before step 5: the summaries and cards list them)
t0=$(date +%s)
for step in $(cat $R/{hybrid,hybrid_shared,mlm}_{12k,24k}.log | tr '\r' '\n' | sed -n 's/.*resuming from .*checkpoint-\([0-9]*\)$/\1/p' | sort -un); do
  [ "$step" -lt 12000 ] && dest=$RES/stage3_25m/order_check_$step.json || dest=$RES/order_check_$step.json
  [ -s "$dest" ] || python experiments/07_check_order.py 3 "$step" > "$dest"
done
stamp "order checks" $t0

# 5. summary, cards, MLM sanity
t0=$(date +%s)
python experiments/06_mlm_sanity.py $R/{hybrid,mlm,hybrid_shared}_24k $R/random_init > $RES/mlm_sanity.json
[ -s $RES/stage3_25m/mlm_sanity.json ] ||
  python experiments/06_mlm_sanity.py $R/{hybrid,mlm,hybrid_shared}_12k $R/random_init > $RES/stage3_25m/mlm_sanity.json
stamp "mlm sanity" $t0
python experiments/04_summarize.py
python experiments/04_summarize.py $RES/stage2_12m
python experiments/04_summarize.py $RES/stage3_25m
ARM_SUFFIX=_24k python experiments/05_cards.py

# the README's links into experiments/ that the move broke (its Results section is rewritten by hand next)
python - <<'PY'
import re, pathlib
for doc in ("README.md", "experiments/README.md"):
    base = pathlib.Path(doc).parent
    for target in sorted(set(re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", pathlib.Path(doc).read_text()))):
        if not (base / target).exists():
            print(f"{doc}: broken link {target}")
PY
