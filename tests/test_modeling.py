"""The model: config validation, every objective's forward, attention paths, padding, checkpoints, exports."""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F
from conftest import make_batch

from modeling_jepa_mlm import (
    JepaMlmConfig,
    JepaMlmForMaskedLM,
    JepaMlmForPreTraining,
    JepaMlmForSequenceClassification,
    JepaMlmModel,
)
from modeling_jepa_mlm.modeling_jepa_mlm import gather_tokens


@pytest.mark.parametrize(
    "field,value,accepted",
    [
        ("objective", "contrastive", "hybrid, mlm, jepa"),
        ("jepa_context", "full", "blocks, shared"),
        ("jepa_loss", "l1", "cosine, smooth_l1, mse"),
        ("balance", "softmax", "sigmoid, uncertainty, fixed, gradnorm, loss_scale"),
        ("balance_target_ratio", 0, "a number > 0"),
        ("balance_ema_decay", 1.0, r"a number in \[0.0, 0.999999\]"),
        ("balance_max_scale", 0.5, r"a number in \[1.0, inf\]"),
        ("pooling", "median", "mean, max, cls, first_last_mean"),
        ("layer_norm_position", "sandwich", "post, pre"),
        ("position_embedding_type", "rotary", "absolute, alibi"),
        ("hidden_size", 30, "a multiple of num_attention_heads=4"),
        ("num_hidden_layers", 0, "an integer > 0"),
        ("balance_fixed_weight", 1.5, r"a number in \[0.0, 1.0\]"),
        ("jepa_target_layers", 3, "1..num_hidden_layers=2"),
        ("mask_token_id", 99, r"an id in \[0, 99\)"),
    ],
)
def test_invalid_config_values_name_field_and_accepted(tiny_config, field, value, accepted):
    with pytest.raises(ValueError, match=rf"JepaMlmConfig\.{field}=.*accepted values: {accepted}"):
        tiny_config(**{field: value})


def test_config_round_trip(tmp_path, tiny_config):
    config = tiny_config(objective="jepa", balance="uncertainty", pooling="max")
    config.save_pretrained(tmp_path)
    loaded = JepaMlmConfig.from_pretrained(tmp_path)
    assert loaded.to_dict() == config.to_dict()
    assert loaded.auto_map["AutoModel"] == "modeling_jepa_mlm.JepaMlmModel"


def test_gather_tokens_keeps_order_and_pads():
    mask = torch.tensor([[True, False, True, True], [False, True, False, False]])
    idx, valid = gather_tokens(mask)
    assert idx.tolist() == [[0, 2, 3], [1, 0, 0]]
    assert valid.tolist() == [[True, True, True], [True, False, False]]


@pytest.mark.parametrize("objective", ["hybrid", "mlm", "jepa"])
@pytest.mark.parametrize("context", ["blocks", "shared"])
def test_pretraining_forward_every_objective(tiny_config, objective, context):
    config = tiny_config(objective=objective, jepa_context=context)
    model = JepaMlmForPreTraining(config)
    out = model(**make_batch(config))
    assert torch.isfinite(out.loss)
    assert (out.mlm_loss is not None) == (objective != "jepa")
    assert (out.jepa_loss is not None) == (objective != "mlm")
    assert (out.balance_weight is not None) == (objective == "hybrid")
    if objective == "hybrid":
        # w = 0 at the start: s = 0.5, L = (L_jepa + L_mlm) / 2 exactly.
        assert out.balance_weight.item() == 0.5
        torch.testing.assert_close(out.loss, 0.5 * out.jepa_loss + 0.5 * out.mlm_loss)
    out.loss.backward()
    online_grads = [p.grad for p in model.jepa_mlm.parameters() if p.grad is not None]
    assert online_grads and all(torch.isfinite(g).all() for g in online_grads)
    if model.target_encoder is not None:
        assert all(p.grad is None and not p.requires_grad for p in model.target_encoder.parameters())
    if objective == "hybrid":
        assert model.balance.logit.grad is not None


def test_mlm_objective_builds_no_target_or_predictor(tiny_config):
    model = JepaMlmForPreTraining(tiny_config(objective="mlm"))
    assert model.target_encoder is None and model.predictor is None and model.balance is None
    assert not any(n.startswith(("target_encoder", "predictor")) for n, _ in model.named_parameters())


def test_mlm_loss_equals_full_vocabulary_cross_entropy(tiny_config):
    config = tiny_config(objective="mlm")
    model = JepaMlmForPreTraining(config).eval()
    batch = make_batch(config)
    out = model(**batch)
    hidden = model.jepa_mlm(batch["input_ids"], batch["attention_mask"]).last_hidden_state
    logits = model.lm_head(hidden)
    full = F.cross_entropy(logits.view(-1, config.vocab_size), batch["labels"].view(-1))
    torch.testing.assert_close(out.mlm_loss, full)


def test_target_encoder_starts_as_copy_and_ema_moves_it(tiny_config):
    model = JepaMlmForPreTraining(tiny_config())
    online = dict(model.jepa_mlm.named_parameters())
    for name, p in model.target_encoder.named_parameters():
        assert torch.equal(p, online[name])
    with torch.no_grad():
        for p in model.jepa_mlm.parameters():
            p.add_(1.0)
    before = {n: p.clone() for n, p in model.target_encoder.named_parameters()}
    model.update_target_encoder_(0.75)
    for name, p in model.target_encoder.named_parameters():
        torch.testing.assert_close(p, 0.75 * before[name] + 0.25 * online[name])


def test_target_encoder_stays_in_eval_mode(tiny_config):
    model = JepaMlmForPreTraining(tiny_config(hidden_dropout_prob=0.3)).train()
    assert model.jepa_mlm.training and not model.target_encoder.training


def test_blocks_context_pass_ignores_non_context_tokens(tiny_config):
    """The online encoder reads only the context tokens: changing a target token leaves the JEPA loss unchanged."""
    config = tiny_config(objective="jepa")
    model = JepaMlmForPreTraining(config).eval()
    batch = make_batch(config)
    # Freeze the targets so only the context pass could react.
    targets = model._targets(batch["clean_input_ids"], batch["attention_mask"], None)
    model._targets = lambda *a, **k: targets
    loss = model(**batch).jepa_loss
    changed = dict(batch)
    changed["clean_input_ids"] = batch["clean_input_ids"].clone()
    changed["clean_input_ids"][:, 4] = (changed["clean_input_ids"][:, 4] + 1) % config.vocab_size
    torch.testing.assert_close(model(**changed).jepa_loss, loss)
    changed["clean_input_ids"][:, 1] = (changed["clean_input_ids"][:, 1] + 1) % config.vocab_size
    assert not torch.allclose(model(**changed).jepa_loss, loss)


@pytest.mark.parametrize("positions", ["absolute", "alibi"])
def test_sdpa_and_eager_agree_on_padded_batch(tiny_config, positions):
    config = tiny_config(position_embedding_type=positions)
    torch.manual_seed(0)
    sdpa = JepaMlmModel(config).eval()
    eager_config = tiny_config(position_embedding_type=positions)
    eager_config._attn_implementation = "eager"
    eager = JepaMlmModel(eager_config).eval()
    eager.load_state_dict(sdpa.state_dict())
    batch = make_batch(config)
    a = sdpa(batch["clean_input_ids"], batch["attention_mask"]).last_hidden_state
    b = eager(batch["clean_input_ids"], batch["attention_mask"]).last_hidden_state
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(a[real], b[real], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("positions", ["absolute", "alibi"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_real_token_outputs_do_not_depend_on_padding(tiny_config, attn, positions):
    config = tiny_config(position_embedding_type=positions)
    config._attn_implementation = attn
    model = JepaMlmModel(config).eval()
    ids = torch.randint(5, config.vocab_size, (1, 5))
    alone = model(ids).last_hidden_state
    padded_ids = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], dim=1)
    mask = torch.tensor([[1] * 5 + [0] * 4])
    padded = model(padded_ids, mask)
    torch.testing.assert_close(padded.last_hidden_state[:, :5], alone, atol=1e-5, rtol=1e-5)
    # Mean and max pooling ignore the padding too.
    torch.testing.assert_close(padded.pooler_output, model(ids).pooler_output, atol=1e-5, rtol=1e-5)


@pytest.mark.filterwarnings("ignore:.*gradient_checkpointing_enable.*:FutureWarning")
def test_gradient_checkpointing_gives_the_same_gradients(tiny_config):
    config = tiny_config()
    torch.manual_seed(0)
    plain = JepaMlmForPreTraining(config).train()
    ckpt = JepaMlmForPreTraining(config).train()
    ckpt.load_state_dict(plain.state_dict())
    ckpt.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    assert ckpt.jepa_mlm.layers[0].gradient_checkpointing
    batch = make_batch(config)
    plain(**batch).loss.backward()
    ckpt(**batch).loss.backward()
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        if p.grad is not None:
            torch.testing.assert_close(q.grad, p.grad, atol=1e-6, rtol=1e-5, msg=name)


def test_bf16_forward_and_backward(tiny_config):
    config = tiny_config()
    model = JepaMlmForPreTraining(config).to(torch.bfloat16)
    out = model(**make_batch(config))
    assert torch.isfinite(out.loss)
    out.loss.backward()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = JepaMlmForPreTraining(config)(**make_batch(config))
    assert torch.isfinite(out.loss)


def test_ids_outside_vocabulary_raise_clear_error(tiny_config):
    model = JepaMlmModel(tiny_config())
    with pytest.raises(ValueError, match=r"id 150.*vocab_size=99.*tokenizer does not match"):
        model(torch.tensor([[2, 150, 3]]))


def test_missing_batch_keys_raise(tiny_config):
    config = tiny_config()
    batch = make_batch(config)
    model = JepaMlmForPreTraining(config)
    with pytest.raises(ValueError, match="clean_input_ids"):
        model(batch["input_ids"], batch["attention_mask"], batch["labels"])
    with pytest.raises(ValueError, match="context_mask"):
        model(batch["input_ids"], batch["attention_mask"], batch["labels"], batch["clean_input_ids"])


def test_pretraining_checkpoint_loads_as_online_encoder_without_warnings(tmp_path, tiny_config, caplog):
    from transformers import AutoModel

    config = tiny_config()
    model = JepaMlmForPreTraining(config)
    with torch.no_grad():  # make online and target differ
        for p in model.jepa_mlm.parameters():
            p.add_(0.5)
    model.save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING):
        encoder, info = AutoModel.from_pretrained(tmp_path, output_loading_info=True)
    assert isinstance(encoder, JepaMlmModel)
    assert not info["missing_keys"] and not info["mismatched_keys"]
    assert not [r for r in caplog.records if "key" in r.getMessage().lower()]
    for name, p in encoder.state_dict().items():
        assert torch.equal(p, model.jepa_mlm.state_dict()[name]), name


def test_export_target_encoder_is_explicit(tiny_config, caplog):
    model = JepaMlmForPreTraining(tiny_config())
    with torch.no_grad():
        for p in model.jepa_mlm.parameters():
            p.add_(0.5)
    online = model.export_encoder()
    with caplog.at_level(logging.WARNING):
        target = model.export_encoder("target")
    assert "target encoder" in caplog.text
    assert torch.equal(
        online.embeddings.word_embeddings.weight, model.jepa_mlm.embeddings.word_embeddings.weight
    )
    assert torch.equal(
        target.embeddings.word_embeddings.weight, model.target_encoder.embeddings.word_embeddings.weight
    )
    with pytest.raises(ValueError, match="online, target"):
        model.export_encoder("ema")
    with pytest.raises(ValueError, match="no target encoder"):
        JepaMlmForPreTraining(tiny_config(objective="mlm")).export_encoder("target")


def test_pretraining_from_encoder_checkpoint_copies_online_into_target(tmp_path, tiny_config):
    encoder = JepaMlmModel(tiny_config())
    encoder.save_pretrained(tmp_path)
    model = JepaMlmForPreTraining.from_pretrained(tmp_path)
    for (name, p), q in zip(model.jepa_mlm.named_parameters(), model.target_encoder.parameters()):
        assert torch.equal(p, q), name
    assert torch.equal(
        model.jepa_mlm.embeddings.word_embeddings.weight, encoder.embeddings.word_embeddings.weight
    )


def test_mlm_head_is_tied_to_input_embeddings(tiny_config):
    for cls in (JepaMlmForPreTraining, JepaMlmForMaskedLM):
        model = cls(tiny_config())
        assert model.lm_head.decoder.weight is model.jepa_mlm.embeddings.word_embeddings.weight


def test_sequence_classification_regression_and_classification(tiny_config):
    batch = make_batch(tiny_config())
    reg = JepaMlmForSequenceClassification(tiny_config(num_labels=1))
    scores = torch.rand(13) * 5
    out = reg(batch["clean_input_ids"], batch["attention_mask"], labels=scores)
    assert out.logits.shape == (13, 1)
    torch.testing.assert_close(out.loss, F.mse_loss(out.logits.squeeze(-1), scores))
    cls = JepaMlmForSequenceClassification(tiny_config(num_labels=3))
    labels = torch.randint(0, 3, (13,))
    out = cls(batch["clean_input_ids"], batch["attention_mask"], labels=labels)
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits, labels))


@pytest.mark.parametrize("norm,positions", [("post", "absolute"), ("pre", "absolute"), ("pre", "alibi")])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("layers", [1, 2])
def test_targets_at_selected_positions_equal_full_targets(tiny_config, attn, layers, norm, positions):
    """The shared mode's targets run the last target layer only at the selected positions: same values (with
    ALiBi, the bias rows of those positions)."""
    config = tiny_config(
        jepa_context="shared",
        jepa_target_layers=layers,
        layer_norm_position=norm,
        position_embedding_type=positions,
    )
    config._attn_implementation = attn
    model = JepaMlmForPreTraining(config)
    batch = make_batch(config)
    selected = batch["labels"] != -100
    full = model._targets(batch["clean_input_ids"], batch["attention_mask"], None)[selected]
    at = model._targets_at(batch["clean_input_ids"], batch["attention_mask"], None, selected)
    torch.testing.assert_close(at, full)


def test_pre_ln_block_matches_its_formula_and_differs_from_post_ln(tiny_config):
    """Pre-LN: `x + Attn(LN1(x))`, then `y + FFN(LN2(y))`, and one more LN on top of the stack."""
    torch.manual_seed(0)
    # Large weights, so the residual branches are not negligible beside the embeddings.
    post = JepaMlmModel(tiny_config(layer_norm_position="post", initializer_range=0.5)).eval()
    pre = JepaMlmModel(tiny_config(layer_norm_position="pre", initializer_range=0.5)).eval()
    assert post.final_norm is None and pre.final_norm is not None
    pre.load_state_dict(post.state_dict(), strict=False)  # the same weights; the final norm stays at identity
    layer = pre.layers[0]
    x = torch.randn(3, 5, pre.config.hidden_size)
    y = x + layer.attention(layer.attention_norm(x), None)
    expected = y + layer.output(layer.act(layer.intermediate(layer.output_norm(y))))
    torch.testing.assert_close(layer(x), expected)
    ids = torch.randint(5, pre.config.vocab_size, (3, 7))
    a, b = post(ids).last_hidden_state, pre(ids).last_hidden_state
    assert (a - b).abs().max() > 0.1
    torch.testing.assert_close(b.pow(2).mean(-1), torch.ones(3, 7), atol=1e-3, rtol=0)  # ends in a LayerNorm


def test_pre_ln_round_trips_through_save_pretrained_and_automodel(tmp_path, tiny_config):
    from transformers import AutoModel

    model = JepaMlmForPreTraining(tiny_config(layer_norm_position="pre")).eval()
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert loaded.config.layer_norm_position == "pre"
    ids = torch.randint(5, model.config.vocab_size, (2, 7))
    torch.testing.assert_close(loaded(ids).last_hidden_state, model.jepa_mlm(ids).last_hidden_state)
    torch.testing.assert_close(loaded.final_norm.weight, model.jepa_mlm.final_norm.weight)


def test_alibi_slopes_are_alibis_geometric_sequence():
    from modeling_jepa_mlm.modeling_jepa_mlm import alibi_slopes

    assert alibi_slopes(4).tolist() == [2**-2, 2**-4, 2**-6, 2**-8]
    assert alibi_slopes(8).tolist() == [2.0**-h for h in range(1, 9)]
    # not a power of two: the 4-head sequence, then every other slope of the 8-head one (Press et al.'s code)
    assert alibi_slopes(6).tolist() == [2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3]


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_alibi_attention_is_softmax_of_scores_minus_slope_times_distance(tiny_config, attn):
    """One attention module with the ALiBi bias equals `softmax(q k^T / sqrt(d) - m_h |i - j|) v`, computed here
    by hand, padded keys excluded; the bias rows of gathered queries give the same rows."""
    from modeling_jepa_mlm.modeling_jepa_mlm import alibi_slopes

    config = tiny_config(position_embedding_type="alibi", initializer_range=0.5)
    config._attn_implementation = attn
    model = JepaMlmModel(config).eval()
    attention, heads = model.layers[0].attention, config.num_attention_heads
    x = torch.randn(2, 6, config.hidden_size)
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    bias = model.attention_bias(mask)
    out = attention(x, bias)
    q, k, v = attention.qkv(x).view(2, 6, 3, heads, -1).permute(2, 0, 3, 1, 4)
    distance = (torch.arange(6)[:, None] - torch.arange(6)[None]).abs()
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5 - alibi_slopes(heads)[:, None, None] * distance
    scores = scores.masked_fill(~mask.bool()[:, None, None, :], float("-inf"))
    expected = attention.dense((scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 6, -1))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    index = torch.tensor([[5, 1], [0, 3]])
    rows = expected.gather(1, index[..., None].expand(-1, -1, x.shape[-1]))  # (2, 2, D)
    torch.testing.assert_close(attention(x, bias, index), rows, atol=1e-5, rtol=1e-5)


def test_alibi_encoder_depends_on_relative_positions_only(tiny_config):
    """ALiBi has no position table: shifting every position by the same amount changes nothing, while the
    absolute encoder's output moves; encoding a gathered subset at its original positions uses their distances."""
    torch.manual_seed(0)
    ids = torch.randint(5, 99, (2, 6))
    shifted = torch.arange(6).unsqueeze(0) + 7
    alibi = JepaMlmModel(tiny_config(position_embedding_type="alibi")).eval()
    assert alibi.embeddings.position_embeddings is None
    assert not any("position_embeddings" in name for name in alibi.state_dict())
    torch.testing.assert_close(
        alibi(ids, position_ids=shifted).last_hidden_state, alibi(ids).last_hidden_state
    )
    spread = torch.tensor([[0, 2, 4, 6, 8, 10]])
    assert (
        alibi(ids, position_ids=spread).last_hidden_state - alibi(ids).last_hidden_state
    ).abs().max() > 1e-3
    absolute = JepaMlmModel(tiny_config()).eval()
    moved = absolute(ids, position_ids=shifted).last_hidden_state - absolute(ids).last_hidden_state
    assert moved.abs().max() > 1e-3


def test_alibi_round_trips_through_save_pretrained_and_automodel(tmp_path, tiny_config):
    from transformers import AutoModel

    model = JepaMlmForPreTraining(
        tiny_config(position_embedding_type="alibi", layer_norm_position="pre")
    ).eval()
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert loaded.config.position_embedding_type == "alibi"
    ids = torch.randint(5, model.config.vocab_size, (2, 7))
    mask = torch.tensor([[1] * 7, [1] * 5 + [0] * 2])
    torch.testing.assert_close(
        loaded(ids, mask).last_hidden_state, model.jepa_mlm(ids, mask).last_hidden_state
    )


def test_pretraining_output_reports_mlm_top1_accuracy(tiny_config):
    model = JepaMlmForPreTraining(tiny_config(objective="mlm")).eval()
    batch = make_batch(model.config)
    out = model(**{k: batch[k] for k in ("input_ids", "attention_mask", "labels")})
    logits = JepaMlmForMaskedLM(model.config)
    logits.load_state_dict(model.state_dict(), strict=False)
    full = logits(batch["input_ids"], batch["attention_mask"]).logits
    selected = batch["labels"] != -100
    expected = (full[selected].argmax(-1) == batch["labels"][selected]).float().mean()
    torch.testing.assert_close(out.mlm_accuracy, expected)


@pytest.mark.parametrize("context", ["blocks", "shared"])
def test_gradient_records_equal_each_branch_gradient_and_change_nothing(tiny_config, context):
    """The hooks' norms are `||dL_x/dH||` of each branch's encoder states (computed here by autograd on the
    encoder outputs), weighted by the balance; and the parameters' gradients are bit-identical without them."""
    config = tiny_config(jepa_context=context, balance="fixed", balance_fixed_weight=0.3)
    batch = make_batch(config)
    torch.manual_seed(0)
    model = JepaMlmForPreTraining(config).train()
    states = []
    handle = model.jepa_mlm.register_forward_hook(lambda m, i, out: states.append(out.last_hidden_state))
    out = model(**batch)
    handle.remove()
    mlm_states, jepa_states = states[0], states[-1]  # blocks: masked pass, context pass; shared: one pass
    g_mlm = torch.autograd.grad(out.mlm_loss, mlm_states, retain_graph=True)[0].norm()
    g_jepa = torch.autograd.grad(out.jepa_loss, jepa_states, retain_graph=True)[0].norm()
    trained = [p for p in model.parameters() if p.requires_grad]
    plain = torch.autograd.grad(out.loss, trained, allow_unused=True)

    model.balance.start_recording()
    out = model(**batch)
    (out.loss / 4).backward()  # as under 4 gradient-accumulation steps: the common scale cancels
    measured = model.balance.measurements()
    torch.testing.assert_close(measured["raw_grad_mlm"], g_mlm.reshape(1))
    torch.testing.assert_close(measured["raw_grad_jepa"], g_jepa.reshape(1))
    torch.testing.assert_close(measured["grad_norm_mlm"], 0.7 * g_mlm.reshape(1))
    torch.testing.assert_close(measured["grad_norm_jepa"], 0.3 * g_jepa.reshape(1))
    for p, g in zip(trained, plain):
        if g is not None:
            assert torch.equal(p.grad, g / 4)
    with torch.no_grad():
        model(**batch)
    model.eval()
    model(**batch).loss.backward()
    assert model.balance.measurements() is None  # evaluation forwards record nothing


@pytest.mark.parametrize("balance,buffers", [("gradnorm", "log_grad_norms"), ("loss_scale", "loss_scales")])
def test_balance_running_estimates_round_trip_through_save_pretrained(
    tmp_path, tiny_config, balance, buffers
):
    model = JepaMlmForPreTraining(tiny_config(balance=balance))
    assert model.balance.num_updates.item() == 0 and model.balance.get_buffer(buffers).tolist() == [0.0, 0.0]
    model.balance.update_(torch.tensor([0.02, 5.0]), torch.tensor([0.4, 7.0]))
    model.balance.update_(torch.tensor([0.03, 4.0]), torch.tensor([0.3, 6.0]))
    model.save_pretrained(tmp_path)
    loaded = JepaMlmForPreTraining.from_pretrained(tmp_path)
    assert loaded.balance.num_updates.item() == 2
    assert torch.equal(loaded.balance.get_buffer(buffers), model.balance.get_buffer(buffers))
    batch = make_batch(model.config)
    assert torch.equal(loaded.train()(**batch).balance_weight, model.train()(**batch).balance_weight)
