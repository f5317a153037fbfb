#!/usr/bin/env bash
# Diagnostic (issue 10): is the long MLM loss plateau a matter of the learning rate? The MLM arm's
# configuration from step 0 with peak lr 3e-4 and 3e-3 instead of 1e-3, everything else identical (data,
# order, masks, 3,000-step schedule shape, seed), side by side with one thread each, stopped after
# STOP_AFTER seconds; their logged MLM losses are compared with the MLM arm's at the same steps.
#   STOP_AFTER=1800 bash experiments/13_lr_diagnostic.sh
set -uo pipefail
cd "$(dirname "$0")/.."
R=experiments/runs
for lr in 3e-4 3e-3; do
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 timeout ${STOP_AFTER:-1800} python run_pretraining.py \
    experiments/configs/cpu_mlm.yaml --output_dir $R/lr_diag_$lr --learning_rate $lr > $R/lr_diag_$lr.log 2>&1 &
done
wait
python - <<'PY'
import json, pathlib, sys
sys.path.insert(0, "experiments")
from logs import logged_losses
base = json.loads(pathlib.Path("experiments/results/stage1_6m/training/mlm_training_summary.json").read_text())
base = {int(s): v for s, v in base["trajectory"]["mlm_loss"]}
out = {"lr_1e-3 (MLM arm)": {}}
for lr in ("3e-4", "3e-3"):
    out[f"lr_{lr}"] = logged_losses(pathlib.Path(f"experiments/runs/lr_diag_{lr}.log"))
    out["lr_1e-3 (MLM arm)"].update({s: round(base[s], 3) for s in out[f"lr_{lr}"] if s in base})
print(json.dumps(out, indent=1))
PY
