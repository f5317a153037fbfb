#!/usr/bin/env bash
# Diagnostic (issue 10): does a pre-LN encoder or a higher masking rate shorten the MLM loss plateau?
# Two runs of the MLM arm's configuration from step 0 with one change each (experiments/15_plateau_diagnostic.py),
# side by side with one thread each, stopped after STOP_AFTER seconds (this run: the pre-LN run was stopped by
# hand after 1,400 steps, when its curve had matched the MLM arm's for 1,300; mask40 ran the full 1,500 s).
# Their logged MLM losses are set beside the MLM arm's at the same steps, and the last mask40 checkpoint's
# held-out masked CE (06_mlm_sanity.py, 15 % masking as for every arm) beside the MLM arm's.
#   STOP_AFTER=1500 bash experiments/15_plateau_diagnostic.sh
set -uo pipefail
cd "$(dirname "$0")/.."
R=experiments/runs
for v in pre_ln mask40; do
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 timeout ${STOP_AFTER:-1500} python experiments/15_plateau_diagnostic.py $v \
    experiments/configs/cpu_mlm.yaml --output_dir $R/plateau_$v > $R/plateau_$v.log 2>&1 &
done
wait
last=$(ls -d $R/plateau_mask40/checkpoint-* | sort -t- -k2 -n | tail -n 1)
python experiments/06_mlm_sanity.py "$last" 2>/dev/null > $R/plateau_mask40_sanity.json
python experiments/15_plateau_diagnostic.py collect > experiments/results/plateau_diagnostic.json
