"""Step 2: the random-initialisation control (issue 10).

Builds the MLM arm's model exactly as `run_pretraining.py` does (same YAML, same seed, so the very
weights every arm starts from), and exports it the way `run_pretraining.py` exports a trained arm
(`JepaMlmForMaskedLM`: encoder + MLM head, with the tokenizer), without a single training step.

    python experiments/02_random_control.py [experiments/configs/cpu_mlm.yaml] [experiments/runs/random_init]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from transformers import AutoTokenizer, set_seed  # noqa: E402

import run_pretraining as rp  # noqa: E402
from modeling_jepa_mlm import JepaMlmForMaskedLM  # noqa: E402


def main() -> None:
    config_path = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "experiments/configs/cpu_mlm.yaml")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else REPO / "experiments/runs/random_init")
    start = time.perf_counter()
    model_args, data_args, training_args = rp.parse_args([config_path])
    set_seed(training_args.seed)  # as run_pretraining.main does, before anything is built
    tokenizer = AutoTokenizer.from_pretrained(
        data_args.tokenizer_name, model_max_length=data_args.max_seq_length
    )
    model = rp.build_model(model_args, tokenizer, data_args.max_seq_length)
    export_model = JepaMlmForMaskedLM(model.config)
    export_model.jepa_mlm.load_state_dict(model.export_encoder("online").state_dict())
    export_model.lm_head.load_state_dict(model.lm_head.state_dict())
    export_model.config.architectures = [type(export_model).__name__]
    out.mkdir(parents=True, exist_ok=True)
    export_model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    info = {
        "what": f"random initialisation control: the MLM arm's initial weights (seed {training_args.seed}), no training",
        "config": config_path,
        "seed": training_args.seed,
        "num_parameters_encoder": sum(p.numel() for p in export_model.jepa_mlm.parameters()),
        "steps": 0,
        "tokens_seen": 0,
        "wall_time_seconds": round(time.perf_counter() - start, 1),
    }
    (out / "training_summary.json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
