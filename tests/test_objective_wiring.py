"""Wiring the unit tests of the parts cannot see: what the target encoder reads, and how many EMA updates an
optimizer step makes (with gradient accumulation too)."""

from __future__ import annotations

import pytest
import torch
from conftest import make_batch
from transformers import TrainerCallback

from modeling_jepa_mlm import JepaMlmForPreTraining
from modeling_jepa_mlm.losses import normalize_targets
from modeling_jepa_mlm.training.trainer import JepaMlmTrainer, JepaMlmTrainingArguments


@pytest.mark.parametrize("context", ["blocks", "shared"])
def test_the_target_encoder_reads_the_clean_sequence_not_the_masked_one(tiny_config, context):
    config = tiny_config(objective="hybrid", jepa_context=context)
    model = JepaMlmForPreTraining(config).train()
    batch = make_batch(config)
    assert not torch.equal(batch["input_ids"], batch["clean_input_ids"])  # some tokens are [MASK]
    seen = []
    handle = model.target_encoder.embeddings.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        out = model(**batch)
    finally:
        handle.remove()
    assert len(seen) == 1 and torch.equal(seen[0], batch["clean_input_ids"])
    if context == "shared":
        # The targets by hand: the EMA encoder on the clean ids, layer-normalised, at the MLM positions.
        with torch.no_grad():
            hidden = model.target_encoder(batch["clean_input_ids"], batch["attention_mask"]).last_hidden_state
            targets = normalize_targets((None, hidden), 1)[batch["labels"] != -100]  # (N, D)
        expected = targets.std(dim=0).mean()
        torch.testing.assert_close(out.target_std, expected, rtol=1e-4, atol=1e-5)


class _Rows(torch.utils.data.Dataset):
    def __init__(self, batch: dict):
        self.batch = batch

    def __len__(self) -> int:
        return len(self.batch["input_ids"])

    def __getitem__(self, i: int) -> dict:
        return {k: v[i] for k, v in self.batch.items()}


class _OnlineAfterEachStep(TrainerCallback):
    """The online encoder's weights after every optimizer step (`on_step_end` runs once per optimizer step)."""

    def __init__(self, model):
        self.model, self.snapshots = model, []

    def on_step_end(self, args, state, control, **kwargs):
        self.snapshots.append({n: p.detach().clone() for n, p in self.model.jepa_mlm.named_parameters()})


@pytest.mark.parametrize("accumulation", [1, 2])
def test_one_ema_update_per_optimizer_step_equals_the_hand_computed_average(
    tmp_path, tiny_config, accumulation
):
    """After N optimizer steps the target is `t_{s+1} = m(s) t_s + (1 - m(s)) theta_{s+1}` applied exactly N times,
    `theta_{s+1}` the online weights after step s, with or without gradient accumulation."""
    config = tiny_config(objective="hybrid", jepa_context="blocks")
    model = JepaMlmForPreTraining(config)
    steps, rows = 3, 8
    args = JepaMlmTrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=rows // accumulation,
        gradient_accumulation_steps=accumulation, max_steps=steps, learning_rate=5e-2, warmup_steps=0,
        ema_momentum_start=0.5, ema_momentum_end=0.9, report_to=[], save_strategy="no", use_cpu=True,
        disable_tqdm=True, dataloader_drop_last=True,
    )  # fmt: skip
    stack = lambda rs: {k: torch.stack([r[k] for r in rs]) for k in rs[0]}  # noqa: E731
    trainer = JepaMlmTrainer(
        model=model, args=args, train_dataset=_Rows(make_batch(config, batch=rows)), data_collator=stack
    )
    online = _OnlineAfterEachStep(model)
    trainer.add_callback(online)
    momenta = []
    update = model.update_target_encoder_

    def counted(momentum: float) -> None:
        momenta.append(momentum)
        update(momentum)

    model.update_target_encoder_ = counted
    expected = {n: p.detach().clone() for n, p in model.target_encoder.named_parameters()}
    trainer.train()
    assert trainer.state.global_step == steps and len(online.snapshots) == steps
    assert momenta == [trainer.current_ema_momentum(s) for s in range(steps)]  # one update a step, m(0..N-1)
    assert momenta[0] == 0.5 and len(set(momenta)) == steps
    for s, theta in enumerate(online.snapshots):
        m = trainer.current_ema_momentum(s)
        expected = {n: m * t + (1 - m) * theta[n] for n, t in expected.items()}
    for name, p in model.target_encoder.named_parameters():
        torch.testing.assert_close(p.detach(), expected[name], rtol=1e-5, atol=1e-6, msg=name)
