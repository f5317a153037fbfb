#!/usr/bin/env bash
# Diagnostic (issue 10): does the `uncertainty` balance balance where the paper's `sigmoid` one does not?
# Step 19 found that under AdamW the sigmoid balance's logit is the summed learning rate, so s -> 1 and the MLM
# term is switched off whatever the losses do. This trains the paper's hybrid (blocks context) from step 0 with
# `balance: uncertainty` (Kendall et al.: L = e^-a L_jepa + a + e^-b L_mlm + b, optimum a = log L_jepa,
# b = log L_mlm), everything else identical to the arm (data, order, masks, seed, the 3,000-step schedule),
# alone on both cores, stopped after STOP_AFTER seconds. Its normalised JEPA weight and losses are set beside
# the sigmoid arm's at the same steps (results/stage1_6m/training/hybrid_trainer_state.json), and the last
# checkpoint's log-variances beside the logs of the losses they should track.
#   STOP_AFTER=1200 bash experiments/20_balance_diagnostic.sh
set -uo pipefail
cd "$(dirname "$0")/.."
R=experiments/runs
CONFIG=$(python -c 'import json, yaml
c = yaml.safe_load(open("experiments/configs/cpu_hybrid.yaml"))["model_config"]
c["balance"] = "uncertainty"
print(json.dumps(c))')
OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 timeout ${STOP_AFTER:-1200} python run_pretraining.py \
  experiments/configs/cpu_hybrid.yaml --model_config "$CONFIG" --output_dir $R/balance_uncertainty \
  > $R/balance_uncertainty.log 2>&1
python - <<'PY' > experiments/results/balance_diagnostic.json
import json, math, sys
from pathlib import Path

from safetensors.torch import load_file

sys.path.insert(0, "experiments")
from logs import logged_dicts

R = Path("experiments/runs")
ours = logged_dicts(R / "balance_uncertainty.log")
base = json.loads(Path("experiments/results/stage1_6m/training/hybrid_trainer_state.json").read_text())
base = {d["step"]: d for d in base["log_history"] if "balance_weight" in d}
keys = ("balance_weight", "jepa_loss", "mlm_loss")
rows = {
    s: {"uncertainty": {k: round(float(ours[s][k]), 4) for k in keys}, "sigmoid": {k: round(base[s][k], 4) for k in keys}}
    for s in sorted(ours) if s % 100 == 0 and s in base
}
last = max(R.glob("balance_uncertainty/checkpoint-*"), key=lambda p: int(p.name.split("-")[1]), default=None)
final = None
if last is not None:
    step = int(last.name.split("-")[1])
    a, b = load_file(str(last / "model.safetensors"))["balance.log_vars"].tolist()
    window = [ours[s] for s in ours if step - 200 < s <= step]
    jepa = sum(float(d["jepa_loss"]) for d in window) / len(window)
    mlm = sum(float(d["mlm_loss"]) for d in window) / len(window)
    final = {
        "checkpoint": step,
        "log_var_jepa": round(a, 4), "log_jepa_loss_last_200_steps": round(math.log(jepa), 4),
        "log_var_mlm": round(b, 4), "log_mlm_loss_last_200_steps": round(math.log(mlm), 4),
        "weight_jepa": round(math.exp(-a), 4), "weight_mlm": round(math.exp(-b), 4),
    }
print(json.dumps({"every_100_steps": rows, "last_checkpoint": final}, indent=1))
PY
tail -c 600 experiments/results/balance_diagnostic.json
