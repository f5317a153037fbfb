#!/usr/bin/env bash
# Step 16 (issue 10): the doubling after 11_continue_12k.sh, 10_continue.sh from the step-12,000 checkpoints of
# experiments/runs/<arm>_12k/ to 24,000 steps (49,152,000 tokens per arm, 2.7 passes over the 18.1 M-token
# 2015.en train split) in experiments/runs/<arm>_24k/, schedule recomputed for 24,000 steps (5.0e-4 at step
# 12,000, 0 at 24,000).
#   THREADS=2 bash experiments/16_continue_24k.sh mlm   # this run: the MLM arm alone, to see whether the MLM
#                                                     # loss plateau ends and its SST-2 probe beats random
set -euo pipefail
cd "$(dirname "$0")"
FROM=12000 TO=24000 SRC=_12k DST=_24k exec bash 10_continue.sh "$@"
