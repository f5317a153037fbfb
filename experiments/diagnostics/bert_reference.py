"""Is the MLM arm's slow start this project's model, or the budget?

Trains transformers' own `BertForMaskedLM` (same size as the MLM arm: 4 x 256, 4 heads, intermediate 1024,
post-LN, dropout 0, tied decoder, full-vocabulary logits as a user gets them) with the MLM arm's YAML: the same
data, packing, order (seed), BERT masks (the same `DataCollatorForJepaMlm`, seeded), batch, optimizer, learning
rate schedule (its `max_steps`, so the schedule is the arm's) and bf16 autocast, through the stock
`transformers.Trainer`. It stops after `--stop_at` steps and writes the logged losses beside the MLM arm's
at the same steps (the arm's `trainer_state.json`). Equal curves mean the model is not what holds the MLM
back. Writes JSON to stdout.

    python experiments/diagnostics/bert_reference.py experiments/configs/cpu_base.yaml --stop_at 400 \
        --arm_state experiments/results/cpu_49m/stage1_6m/training/mlm_trainer_state.json

The published run (`results/diagnostics/bert_reference.json`) used the first stage's MLM arm: its config had
`max_steps: 3000` (the schedule this reference follows); pass `--max_steps 3000` with the base to repeat it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from transformers import BertConfig, BertForMaskedLM, Trainer, TrainerCallback, set_seed
from transformers.trainer_callback import PrinterCallback

from modeling_jepa_mlm.training import pretrain as rp

BERT_KEYS = ("input_ids", "attention_mask", "token_type_ids", "labels")
# JepaMlmConfig keeps BERT's field names: these carry over to BertConfig as they are
BERT_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "max_position_embeddings",
    "type_vocab_size",
    "initializer_range",
    "layer_norm_eps",
    "pad_token_id",
)


class StopAt(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True
        return control


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="the MLM arm's run_pretraining config (YAML); flags after it override it")
    p.add_argument("--stop_at", type=int, default=400, help="stop after this many steps")
    p.add_argument(
        "--arm_state",
        default=None,
        help="the MLM arm's trainer_state.json, whose logged losses are set beside",
    )
    p.add_argument(
        "--output", type=argparse.FileType("w"), default=sys.stdout, help="JSON file (default: stdout)"
    )
    return p.parse_known_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args, overrides = parse_args(argv)
    model_args, data_args, training_args = rp.parse_args([args.config, *overrides])
    set_seed(training_args.seed)
    raw = rp.load_raw(data_args, training_args)
    out_dir = tempfile.mkdtemp(prefix="bert-reference-")
    tokenizer = rp.build_tokenizer(data_args, raw, out_dir)
    ours = rp.build_model(model_args, tokenizer, data_args.max_seq_length).config
    config = BertConfig(**{k: getattr(ours, k) for k in BERT_FIELDS}, tie_word_embeddings=True)
    set_seed(training_args.seed)
    model = BertForMaskedLM(config)
    packed = rp.pack(raw, tokenizer, data_args, training_args)
    collator = rp.build_collator(ours, data_args, tokenizer, training_args.seed)

    def bert_batch(features):
        batch = collator(features)
        return {k: v for k, v in batch.items() if k in BERT_KEYS}

    training_args.output_dir = out_dir
    training_args.save_strategy = "no"
    training_args.disable_tqdm = True
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=packed["train"],
        data_collator=bert_batch,
        callbacks=[StopAt(args.stop_at)],
    )
    trainer.remove_callback(PrinterCallback)  # stdout carries only the JSON
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start
    bert = {int(h["step"]): h["loss"] for h in trainer.state.log_history if "loss" in h}
    arm = {}
    if args.arm_state:
        history = json.loads(Path(args.arm_state).read_text())["log_history"]
        arm = {int(h["step"]): h.get("mlm_loss", h.get("loss")) for h in history if "loss" in h}
    rows = [{"step": s, "bert_loss": bert[s], "mlm_arm_loss": arm.get(s)} for s in sorted(bert)]
    both = [r for r in rows if r["mlm_arm_loss"] is not None]
    out = {
        "what": "transformers BertForMaskedLM, same size/data/order/masks/optimizer/schedule as the MLM arm",
        "config": args.config,
        "steps": trainer.state.global_step,
        "wall_seconds": round(wall, 1),
        "bert_parameters": sum(p.numel() for p in model.parameters()),
        "mean_abs_loss_difference": (
            sum(abs(r["bert_loss"] - r["mlm_arm_loss"]) for r in both) / len(both) if both else None
        ),
        "curves": rows,
    }
    args.output.write(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
