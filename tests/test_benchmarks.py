"""The throughput benchmark runs end to end in its smoke mode, and its FLOP counts hold hand-computed values."""

from __future__ import annotations

import pytest
import torch
from conftest import load_script

throughput = load_script("throughput")


def test_smoke_run_measures_every_arm_against_bert():
    result = throughput.main(["--smoke", "--device", "cpu"])
    rows = {row["arm"]: row for row in result["rows"]}
    assert set(rows) == set(throughput.ARMS)
    for row in rows.values():
        assert row["steps_timed"] == 1
        assert row["step_s"] > 0 and row["tokens_per_s"] > 0 and row["peak_mib"] > 0
    assert rows["bert"]["x_bert_tokens_per_s"] == 1.0 and rows["mlm"]["x_mlm_step_time"] == 1.0
    assert rows["hybrid"]["x_bert_tokens_per_s"] == pytest.approx(
        rows["hybrid"]["tokens_per_s"] / rows["bert"]["tokens_per_s"]
    )
    assert "| 1x64 L=32 | hybrid_shared |" in result["table"]
    assert result["environment"]["torch"] == torch.__version__


def test_examples_are_full_length_with_bert_special_ids():
    examples = throughput.make_examples(3, 16)
    for ex in examples:
        ids = ex["input_ids"]
        assert len(ids) == 16 and ids[0] == throughput.CLS_ID and ids[-1] == throughput.SEP_ID
        assert min(ids[1:-1]) >= throughput.FIRST_WORD_ID and max(ids) < throughput.VOCAB_SIZE
    tokenizer = throughput.make_tokenizer()
    assert len(tokenizer) == throughput.VOCAB_SIZE
    assert (tokenizer.pad_token_id, tokenizer.mask_token_id) == (throughput.PAD_ID, throughput.MASK_ID)


def test_flops_per_token_by_hand():
    size = throughput.Size(layers=2, width=64, seq_len=32)
    bert = throughput.BertForMaskedLM(throughput.bert_config(size))
    d, ffn, s, v = 64, 256, 32, throughput.VOCAB_SIZE
    per_layer = 4 * d * d + 2 * d * ffn
    expected = 6 * (2 * per_layer + d * d + d * v) + 12 * 2 * s * d
    assert throughput.flops_per_token("bert", bert, s) == expected
    mlm = throughput.JepaMlmForPreTraining(throughput.jepa_config("mlm", size))
    head = 2 * (d * d + d * v) * 0.15
    assert throughput.flops_per_token("mlm", mlm, s) == pytest.approx(
        3 * (2 * 2 * per_layer + 4 * 2 * s * d + head)
    )


def test_recipe_throughput_update_keeps_each_recipe_with_its_own_conditions():
    recipe_throughput = load_script("recipe_throughput")
    earlier = {
        "command": "first",
        "date": "d1",
        "machine": {"threads": 2},
        "recipes": {"a": {"tokens_per_second": 1.0}, "b": {"tokens_per_second": 2.0}},
    }
    later = {
        "command": "second",
        "date": "d2",
        "machine": {"threads": 1},
        "recipes": {"b": {"tokens_per_second": 3.0}},
    }
    merged = recipe_throughput.merge(earlier, later)
    assert merged["recipes"]["a"] == {
        "tokens_per_second": 1.0,
        "command": "first",
        "date": "d1",
        "machine": {"threads": 2},
    }
    assert merged["recipes"]["b"] == {
        "tokens_per_second": 3.0,
        "command": "second",
        "date": "d2",
        "machine": {"threads": 1},
    }
    assert merged["date"] == "d2"
    # merging again keeps the recorded conditions of each recipe
    again = recipe_throughput.merge(merged, {**later, "date": "d3", "recipes": {}})
    assert again["recipes"]["b"]["date"] == "d2"
