#!/usr/bin/env bash
# Step 11 (issue 10): the next doubling, 10_continue.sh from the step-6,000 checkpoints of
# experiments/runs/<arm>_continue/ to 12,000 steps (24,576,000 tokens per arm) in experiments/runs/<arm>_12k/,
# schedule recomputed for 12,000 steps (5.1e-4 at step 6,000, 0 at 12,000).
#   bash experiments/11_continue_12k.sh                 # all three; an arm already at 12,000 is skipped
#   THREADS=2 bash experiments/11_continue_12k.sh mlm   # one arm with both cores (this run: only the MLM arm,
#                                                     # to see whether 24.6 M tokens lifts its SST-2 probe)
set -euo pipefail
cd "$(dirname "$0")"
FROM=6000 TO=12000 SRC=_continue DST=_12k exec bash 10_continue.sh "$@"
