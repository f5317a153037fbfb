"""Where an encoder's attention looks: per layer and head, on held-out packed sequences of a study.

Answers whether a pre-trained encoder uses word order at all. For each layer and head, averaged over the queries
of `--sequences` held-out sequences (the first packed validation sequences of the study's base config, 128 tokens,
no padding): the entropy of the attention row as a fraction of its maximum `log L` (1 = uniform), the mean
distance `|i - j|` it attends over (uniform: (L^2 - 1) / 3L, 42.7 at L = 128), and the mass on the two
neighbours `|i - j| = 1` (uniform: about 2 / L); the mean largest weight of a row (`max_mass`), and the token that
receives the most attention mass over all queries (`top_key_token`, its id), with its share of the mass and of the
sequences' tokens (a head whose mass goes to one rare token, a "sink", reads almost nothing of its context). Runs
the model's own layers with eager attention and reads the probabilities it computes. A checkpoint folder is read
with its step and the losses and balance logged at that step; a table of all models ends the output.

    python experiments/diagnostics/attention.py experiments/studies/escape.yaml \
        experiments/runs/escape/pre_lr3e-3_b128-seed42 experiments/runs/escape/random_init-seed42 \
        --json experiments/results/escape/attention.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

import modeling_jepa_mlm.modeling_jepa_mlm as modeling
from modeling_jepa_mlm import JepaMlmModel
from modeling_jepa_mlm.study.spec import load_study


def held_out_sequences(study: Path, count: int, workdir: Path) -> torch.Tensor:
    """(count, L) input ids: the first packed validation sequences of the study's base config."""
    import yaml

    from modeling_jepa_mlm.training.pretrain import build_tokenizer, load_raw, pack, parse_args

    config = {**load_study(study).runs()[0].config, "output_dir": str(workdir)}
    path = workdir / "config.yaml"
    workdir.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    _, data_args, training_args = parse_args([str(path)])
    raw = load_raw(data_args, training_args)
    packed = pack(raw, build_tokenizer(data_args, raw, training_args.output_dir), data_args, training_args)
    return torch.tensor(packed["validation"].select(range(count))["input_ids"])


def attention_statistics(model: JepaMlmModel, input_ids: torch.Tensor) -> list[dict]:
    """Per layer: each head's normalised entropy, mean attended distance and mass on the two neighbours."""
    captured = []
    eager = modeling.eager_attention_forward

    def capture(*args, **kwargs):
        out, probs = eager(*args, **kwargs)
        captured.append(probs.detach())
        return out, probs

    model.config._attn_implementation = "eager"
    modeling.eager_attention_forward = capture
    try:
        with torch.no_grad():
            model.eval()(input_ids=input_ids)
    finally:
        modeling.eager_attention_forward = eager
    length = input_ids.shape[1]
    distance = (torch.arange(length)[:, None] - torch.arange(length)[None]).abs().float()
    layers = []
    vocab = int(input_ids.max()) + 1
    for probs in captured:  # (B, H, L, L)
        entropy = -(probs.clamp_min(1e-12).log() * probs).sum(-1).mean((0, 2)) / math.log(length)
        # Mass each key token receives, summed over the queries and sequences, per head: a head whose mass goes to
        # one token type (a "sink", such as [SEP]) reads almost nothing of its context.
        received = probs.sum(2)  # (B, H, L): mass on each key position
        by_token = torch.zeros(probs.shape[1], vocab).index_add_(
            1, input_ids.flatten(), received.permute(1, 0, 2).reshape(probs.shape[1], -1)
        )
        share, token = (by_token / by_token.sum(1, keepdim=True)).max(1)
        layers.append(
            {
                "entropy_fraction": [round(v, 3) for v in entropy.tolist()],
                "mean_distance": [round(v, 2) for v in (probs * distance).sum(-1).mean((0, 2)).tolist()],
                "neighbour_mass": [
                    round(v, 4) for v in (probs * (distance == 1)).sum(-1).mean((0, 2)).tolist()
                ],
                "max_mass": [round(v, 3) for v in probs.amax(-1).mean((0, 2)).tolist()],
                "top_key_token": token.tolist(),
                "top_key_token_mass": [round(v, 3) for v in share.tolist()],
                "top_key_token_frequency": [
                    round(v, 4) for v in (input_ids[..., None] == token).float().mean((0, 1)).tolist()
                ],
            }
        )
    return layers


def training_record(folder: Path) -> dict | None:
    """For a checkpoint folder (one with `trainer_state.json`): its step and the training and evaluation log
    entries of that step, so that attention can be read against the losses and the balance of the same moment."""
    path = Path(folder) / "trainer_state.json"
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    step = state["global_step"]
    logged = [h for h in state["log_history"] if h.get("step") == step]
    return {
        "step": step,
        "train": next((h for h in logged if "loss" in h), None),
        "eval": next((h for h in logged if "eval_mlm_loss" in h), None),
    }


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def summary_rows(models: dict[str, list[dict]], training: dict[str, dict | None]) -> list[str]:
    """A markdown table: per model, each layer's mean and lowest head entropy fraction, the mean largest row
    weight, and for checkpoints the step, held-out MLM cross-entropy, JEPA loss, target std and balance weight."""
    rows = [
        "| model | step | held-out MLM CE | JEPA loss | target std | balance weight | entropy fraction per layer, "
        "mean (lowest head) | largest row weight per layer, mean |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, layers in models.items():
        record = training.get(name) or {}
        train, evaluation = record.get("train") or {}, record.get("eval") or {}
        entropy = ", ".join(
            f"{sum(la['entropy_fraction']) / len(la['entropy_fraction']):.2f} ({min(la['entropy_fraction']):.2f})"
            for la in layers
        )
        largest = ", ".join(f"{sum(la['max_mass']) / len(la['max_mass']):.2f}" for la in layers)
        rows.append(
            f"| {Path(name).name} | {record.get('step', '-')} | {_cell(evaluation.get('eval_mlm_loss'))} | "
            f"{_cell(train.get('jepa_loss'))} | {_cell(train.get('target_std'))} | "
            f"{_cell(train.get('balance_weight'), 4)} | {entropy} | {largest} |"
        )
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("study", type=Path, help="a study file: its base config names the data and tokenizer")
    parser.add_argument("models", nargs="+", help="exported model folders")
    parser.add_argument("--sequences", type=int, default=32)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    ids = held_out_sequences(args.study, args.sequences, Path("/tmp") / "attention_diagnostic")
    length = ids.shape[1]
    result = {
        "what": __doc__.split("\n")[0],
        "sequences": args.sequences,
        "length": length,
        "uniform": {
            "entropy_fraction": 1.0,
            "mean_distance": round((length**2 - 1) / (3 * length), 2),
            "neighbour_mass": round(2 * (length - 1) / length**2, 4),
        },
        "models": {m: attention_statistics(JepaMlmModel.from_pretrained(m), ids) for m in args.models},
    }
    result["training"] = {m: training_record(Path(m)) for m in args.models}
    for name, layers in result["models"].items():
        print(name)
        for i, layer in enumerate(layers):
            print(f"  layer {i}: {layer}")
    print("\n".join(summary_rows(result["models"], result["training"])))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
