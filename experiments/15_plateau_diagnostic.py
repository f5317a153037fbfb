"""Diagnostic (issue 10): what shortens the MLM loss plateau on this CPU?

Runs `run_pretraining.main()` with the MLM arm's configuration and one change, given as the first argument:
  pre_ln     the encoder blocks as pre-LN (x + attn(LN(x)), then x + ffn(LN(x))) instead of BERT's post-LN
  mask40     BERT's layout, 40 % of tokens masked instead of 15 % (Wettig et al., 2023)
The rest of the command line goes to run_pretraining (config path, --output_dir, ...); `collect` instead
prints the JSON that 15_plateau_diagnostic.sh stores in experiments/results/plateau_diagnostic.json. The pre-LN variant is a
monkeypatch of `JepaMlmLayer.forward` for this diagnostic only; the LM head's own LayerNorm normalises the
last layer's output.
  python experiments/15_plateau_diagnostic.py pre_ln experiments/configs/cpu_mlm.yaml --output_dir ...
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from logs import logged_losses  # noqa: E402  (experiments/, the script's own folder)

from modeling_jepa_mlm import modeling_jepa_mlm as M  # noqa: E402


def pre_ln_forward(self, hidden_states, attention_mask=None, query_index=None):
    residual = hidden_states
    if query_index is not None:
        residual = hidden_states.gather(1, query_index.unsqueeze(-1).expand(-1, -1, hidden_states.shape[-1]))
    x = residual + self.attention(self.attention_norm(hidden_states), attention_mask, query_index)
    return x + self.output(self.act(self.intermediate(self.output_norm(x))))


def collect() -> dict:
    runs, results = Path("experiments/runs"), Path("experiments/results")
    base = json.loads((results / "stage1_6m/training/mlm_training_summary.json").read_text())
    base = {int(s): round(v, 3) for s, v in base["trajectory"]["mlm_loss"]}
    out = {
        "what": "MLM training loss every 100 steps (BERT 80/10/10 masking of the run's rate; same data, order, "
        "batch 16 x 128, lr, schedule and seed as the MLM arm), and held-out masked CE at 15 % (06_mlm_sanity)",
        "machine": "2-core AMD EPYC CPU, one thread per run",
    }
    curves = {name: logged_losses(runs / f"plateau_{name}.log") for name in ("pre_ln", "mask40")}
    out["mlm_loss"] = {
        "post_ln_mask15 (MLM arm)": {s: base[s] for s in curves["pre_ln"] if s in base},
        **curves,
    }
    sanity = json.loads((runs / "plateau_mask40_sanity.json").read_text())
    arm = json.loads((results / "stage1_6m/mlm_sanity.json").read_text())
    ckpt = next(k for k in sanity if "checkpoint-" in k)
    steps = int(ckpt.rsplit("-", 1)[1])
    out["held_out_masked_ce"] = {
        f"mask40 at step {steps} ({steps * 16 * 128:,} tokens)": round(sanity[ckpt]["cross_entropy"], 3),
        "MLM arm at step 3,000 (6,144,000 tokens)": round(arm["experiments/runs/mlm"]["cross_entropy"], 3),
        "train unigram": round(sanity["unigram_cross_entropy_train"], 3),
    }
    return out


if __name__ == "__main__":
    variant = sys.argv.pop(1)
    if variant == "collect":
        print(json.dumps(collect(), indent=1))
        raise SystemExit
    if variant == "pre_ln":
        M.JepaMlmLayer.forward = pre_ln_forward
    elif variant == "mask40":
        sys.argv += ["--mlm_probability", "0.4"]
    else:
        raise SystemExit(f"unknown variant {variant!r}: expected pre_ln, mask40 or collect")
    import run_pretraining

    run_pretraining.main()
