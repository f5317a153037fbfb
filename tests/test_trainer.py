"""JepaMlmTrainer pieces without a full run: parameter groups, the EMA after an optimizer step, argument checks."""

from __future__ import annotations

import pytest
import torch
from conftest import make_batch

from modeling_jepa_mlm import JepaMlmForPreTraining
from modeling_jepa_mlm.training.trainer import JepaMlmTrainer, JepaMlmTrainingArguments


class _Batches(torch.utils.data.Dataset):
    """Rows of one hand-made batch; the collator re-stacks them."""

    def __init__(self, config, n: int = 13):
        self.batch = make_batch(config, batch=n)

    def __len__(self) -> int:
        return len(self.batch["input_ids"])

    def __getitem__(self, i: int) -> dict:
        return {k: v[i] for k, v in self.batch.items()}


def _stack(rows: list[dict]) -> dict:
    return {k: torch.stack([r[k] for r in rows]) for k in rows[0]}


def _trainer(tmp_path, config, **overrides) -> JepaMlmTrainer:
    settings = dict(
        output_dir=str(tmp_path),
        per_device_train_batch_size=13,
        max_steps=1,
        learning_rate=1e-2,
        weight_decay=0.1,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    args = JepaMlmTrainingArguments(**{**settings, **overrides})
    model = JepaMlmForPreTraining(config)
    return JepaMlmTrainer(model=model, args=args, train_dataset=_Batches(config), data_collator=_stack)


@pytest.mark.parametrize("balance,names", [("sigmoid", ["logit"]), ("uncertainty", ["log_vars"])])
def test_balance_is_never_weight_decayed(tmp_path, tiny_config, balance, names):
    # One rule (`get_decay_parameter_names`) and the Trainer's own grouping: no optimizer regrouping of ours.
    trainer = _trainer(tmp_path, tiny_config(balance=balance))
    optimizer = trainer.create_optimizer()
    assert [n for n, _ in trainer.model.balance.named_parameters()] == names
    for p in trainer.model.balance.parameters():
        groups = [g for g in optimizer.param_groups if any(q is p for q in g["params"])]
        assert len(groups) == 1 and groups[0]["weight_decay"] == 0.0
    decayed = {id(p) for g in optimizer.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    assert decayed and all(g["weight_decay"] == 0.1 for g in optimizer.param_groups if g["weight_decay"] > 0)
    assert id(trainer.model.jepa_mlm.layers[0].attention.qkv.weight) in decayed
    assert id(trainer.model.jepa_mlm.layers[0].attention.qkv.bias) not in decayed
    # The frozen target encoder is not optimised at all.
    optimised = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert not any(id(p) in optimised for p in trainer.model.target_encoder.parameters())


def test_ema_runs_after_the_optimizer_step_with_the_scheduled_momentum(tmp_path, tiny_config):
    trainer = _trainer(tmp_path, tiny_config(), ema_momentum_start=0.5, ema_momentum_end=1.0)
    model = trainer.model
    target_before = {n: p.detach().clone() for n, p in model.target_encoder.named_parameters()}
    trainer.train()
    online_after = dict(model.jepa_mlm.named_parameters())
    # Step t = 0 uses m(0) = 0.5 and reads the online weights after the optimizer step.
    for name, p in model.target_encoder.named_parameters():
        torch.testing.assert_close(p, 0.5 * target_before[name] + 0.5 * online_after[name].detach(), msg=name)
    assert not torch.equal(
        online_after["embeddings.LayerNorm.weight"], target_before["embeddings.LayerNorm.weight"]
    )


def test_logs_carry_objective_parts_momentum_and_throughput(tmp_path, tiny_config):
    trainer = _trainer(tmp_path, tiny_config(), logging_steps=1, max_steps=2)
    trainer.train()
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == 2
    for entry in logged:
        for key in (
            "mlm_loss",
            "jepa_loss",
            "balance_weight",
            "ema_momentum",
            "tokens_per_second",
            "target_std",
        ):
            assert key in entry, key
    assert logged[0]["ema_momentum"] == pytest.approx(0.998)  # m(1) of 0.996 -> 1.0 over 2 steps


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("ema_schedule", "step", "linear, cosine"),
        ("ema_momentum_start", 1.5, r"\[0, 1\]"),
        ("export_encoder", "ema", "online, target"),
    ],
)
def test_invalid_training_arguments(tmp_path, field, value, match):
    with pytest.raises(ValueError, match=rf"{field}=.*{match}"):
        JepaMlmTrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[], **{field: value})
