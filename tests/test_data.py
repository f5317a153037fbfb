"""Loading raw text, training the tokenizer, packing, and the errors raised before any training."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path

import datasets
import pytest
from transformers import AutoTokenizer

from modeling_jepa_mlm.quickstart.synthetic import generate_corpus
from modeling_jepa_mlm.training.collator import DataCollatorForJepaMlm
from modeling_jepa_mlm.training.data import (
    SYNTHETIC_DOCUMENTS,
    SourceUnavailableError,
    check_text_column,
    check_tokenizer_fits,
    iter_texts,
    load_or_train_tokenizer,
    load_raw_datasets,
    tokenize_and_pack,
    train_wordpiece_tokenizer,
)


def make_corpus(num_docs: int, seed: int) -> list[str]:
    """Lower-case sentences of made-up words."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randint(2, 8))) for _ in range(300)]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 40))) + "." for _ in range(num_docs)]


@pytest.fixture(autouse=True, scope="module")
def quiet_progress_bars() -> Iterator[None]:
    datasets.disable_progress_bars()
    yield
    datasets.enable_progress_bars()


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece_tokenizer(make_corpus(300, seed=0), vocab_size=400, min_frequency=1)


def write_rows(path: Path, texts: list[str], column: str = "text") -> Path:
    """Write `texts` as one column in the format given by the suffix of `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".txt":
        path.write_text("\n".join(texts) + "\n")
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({"id": i, column: t}) + "\n" for i, t in enumerate(texts)))
    else:
        dataset = datasets.Dataset.from_dict({"id": list(range(len(texts))), column: texts})
        dataset.to_parquet(str(path)) if path.suffix == ".parquet" else dataset.to_csv(str(path), index=False)
    return path


def test_folder_of_text_files_with_seeded_held_out_slice(tmp_path: Path) -> None:
    docs = make_corpus(60, seed=1)
    for i in range(3):
        write_rows(tmp_path / "corpus" / f"part{i}.txt", docs[20 * i : 20 * (i + 1)])
    write_rows(tmp_path / "corpus" / ".hidden" / "skip.txt", ["never loaded"])
    (tmp_path / "corpus" / "NOTES.md").write_text("not data")
    raw = load_raw_datasets(
        train_file=str(tmp_path / "corpus"),
        validation_split_percentage=10,
        seed=0,
        cache_dir=str(tmp_path / "c"),
    )
    assert isinstance(raw, datasets.DatasetDict)
    train, validation = list(raw["train"]["text"]), list(raw["validation"]["text"])
    assert len(validation) == 6 and len(train) == 54
    assert sorted(train + validation) == sorted(docs)
    again = load_raw_datasets(
        train_file=str(tmp_path / "corpus"),
        validation_split_percentage=10,
        seed=0,
        cache_dir=str(tmp_path / "c"),
    )
    assert list(again["validation"]["text"]) == validation
    other = load_raw_datasets(
        train_file=str(tmp_path / "corpus"),
        validation_split_percentage=10,
        seed=1,
        cache_dir=str(tmp_path / "c"),
    )
    assert list(other["validation"]["text"]) != validation


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".csv"])
def test_data_files_with_a_named_text_column(tmp_path: Path, suffix: str) -> None:
    docs = make_corpus(30, seed=2)
    train = write_rows(tmp_path / f"train{suffix}", docs[:25], column="content")
    validation = write_rows(tmp_path / f"dev{suffix}", docs[25:], column="content")
    raw = load_raw_datasets(
        train_file=str(train),
        validation_file=str(validation),
        text_column="content",
        cache_dir=str(tmp_path / "c"),
    )
    assert list(raw["train"]["content"]) == docs[:25]
    assert list(raw["validation"]["content"]) == docs[25:]


def test_local_hub_layout_folder_with_configs(tmp_path: Path) -> None:
    """The layout of ../shared/data/wikipedia: README configs, one folder of parquet shards per config."""
    docs = make_corpus(40, seed=3)
    root = tmp_path / "wiki"
    write_rows(root / "tiny.en" / "train-00000-of-00002.parquet", docs[:20])
    write_rows(root / "tiny.en" / "train-00001-of-00002.parquet", docs[20:])
    write_rows(root / "other.en" / "train-00000-of-00001.parquet", ["unused text"])
    (root / "README.md").write_text(
        "---\nconfigs:\n"
        "- config_name: tiny.en\n  data_files:\n  - split: train\n    path: tiny.en/train-*.parquet\n"
        "- config_name: other.en\n  data_files:\n  - split: train\n    path: other.en/train-*.parquet\n---\n"
    )
    raw = load_raw_datasets(
        str(root), "tiny.en", validation_split_percentage=5, cache_dir=str(tmp_path / "c")
    )
    assert raw["train"].num_rows == 38 and raw["validation"].num_rows == 2
    assert sorted(list(raw["train"]["text"]) + list(raw["validation"]["text"])) == sorted(docs)
    assert raw["train"].column_names == ["id", "text"]


def test_folder_with_train_and_validation_files_keeps_its_splits(tmp_path: Path) -> None:
    write_rows(tmp_path / "d" / "train.jsonl", make_corpus(10, seed=4))
    write_rows(tmp_path / "d" / "validation.jsonl", make_corpus(3, seed=5))
    raw = load_raw_datasets(str(tmp_path / "d"), cache_dir=str(tmp_path / "c"))
    assert raw["train"].num_rows == 10 and list(raw["validation"]["text"]) == make_corpus(3, seed=5)


def test_streaming_holds_out_the_first_examples_and_packs_lazily(tmp_path: Path, tokenizer) -> None:
    docs = make_corpus(50, seed=6)
    raw = load_raw_datasets(
        train_file=str(write_rows(tmp_path / "train.jsonl", docs)),
        streaming=True,
        validation_split_examples=5,
    )
    assert isinstance(raw, datasets.IterableDatasetDict)
    assert [r["text"] for r in raw["validation"]] == docs[:5]
    assert [r["text"] for r in raw["train"]] == docs[5:]
    packed = tokenize_and_pack(raw, tokenizer, 16, batch_size=10_000)
    rows = list(packed["train"])
    flat = list(chain.from_iterable(tokenizer(docs[5:], add_special_tokens=False)["input_ids"]))
    assert len(rows) == len(flat) // 14
    assert all(len(r["input_ids"]) == 16 for r in rows)


def test_iter_texts_skips_blank_rows_and_cuts_documents() -> None:
    dataset = datasets.Dataset.from_dict({"text": ["abcdef", "  ", None, "ghijkl", "mnopqr"]})
    assert list(iter_texts(dataset, batch_size=2, max_chars_per_document=3)) == [["abc"], ["ghi"], ["mno"]]
    assert list(chain.from_iterable(iter_texts(dataset, max_texts=4))) == ["abcdef", "ghijkl"]


def test_trained_tokenizer_round_trips_as_a_fast_bert_tokenizer(tmp_path: Path) -> None:
    corpus = make_corpus(200, seed=7)
    trained = load_or_train_tokenizer(
        None, iter([corpus]), vocab_size=300, output_dir=tmp_path / "tok", min_frequency=1
    )
    assert (tmp_path / "tok" / "tokenizer.json").is_file()
    loaded = AutoTokenizer.from_pretrained(str(tmp_path / "tok"))
    assert loaded.is_fast
    assert len(loaded) == len(trained) <= 300
    assert loaded.pad_token_id == 0 and loaded.convert_ids_to_tokens(0) == "[PAD]"
    assert [loaded.unk_token_id, loaded.cls_token_id, loaded.sep_token_id, loaded.mask_token_id] == [
        1,
        2,
        3,
        4,
    ]
    text = corpus[0]
    ids = loaded(text)["input_ids"]
    assert ids == trained(text)["input_ids"]
    assert ids[0] == loaded.cls_token_id and ids[-1] == loaded.sep_token_id
    assert loaded.decode(ids, skip_special_tokens=True) == text
    assert loaded(text.upper())["input_ids"] == ids  # uncased
    assert loaded(["a", "b"], ["c"] * 2)["input_ids"][0].count(loaded.sep_token_id) == 2  # pair template
    # A resumed run reuses the saved tokenizer instead of training a new one.
    reused = load_or_train_tokenizer(None, None, output_dir=tmp_path / "tok")
    assert reused.get_vocab() == loaded.get_vocab()
    by_name = load_or_train_tokenizer(str(tmp_path / "tok"))
    assert by_name.get_vocab() == loaded.get_vocab()


def test_tokenizer_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no/such/tokenizer"):
        load_or_train_tokenizer(str(tmp_path / "no/such/tokenizer"))
    with pytest.raises(ValueError, match="no tokenizer_name and no texts"):
        load_or_train_tokenizer(None, None, output_dir=tmp_path / "empty")
    with pytest.raises(ValueError, match="learned no token"):
        train_wordpiece_tokenizer([""], vocab_size=100)


def test_check_tokenizer_fits(tokenizer) -> None:
    check_tokenizer_fits(tokenizer, len(tokenizer), pad_token_id=0, mask_token_id=4)
    with pytest.raises(ValueError, match=rf"has {len(tokenizer)} tokens but the model's vocab_size=100"):
        check_tokenizer_fits(tokenizer, 100)
    with pytest.raises(ValueError, match="mask_token_id=103 but the tokenizer's is 4"):
        check_tokenizer_fits(tokenizer, 30522, mask_token_id=103)
    no_mask = tokenizer.__class__(vocab=tokenizer.get_vocab(), mask_token=None)
    with pytest.raises(ValueError, match="no mask_token"):
        check_tokenizer_fits(no_mask, 30522)


def test_packing_gives_full_sequences_and_loses_only_the_remainder(tokenizer) -> None:
    docs = make_corpus(80, seed=8)
    docs[3] = "   "  # blank rows are skipped
    docs[5] = "zz ж zz"  # ж is out of the vocabulary: an [UNK] inside a sequence
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": docs, "id": list(range(80))})})
    packed = tokenize_and_pack(raw, tokenizer, 17, batch_size=10_000)["train"]
    assert packed.column_names == ["input_ids", "special_tokens_mask"]
    flat = list(chain.from_iterable(tokenizer(docs, add_special_tokens=False)["input_ids"]))
    assert packed.num_rows == len(flat) // 15
    rows, special = list(packed["input_ids"]), list(packed["special_tokens_mask"])
    assert all(
        len(r) == 17 and r[0] == tokenizer.cls_token_id and r[-1] == tokenizer.sep_token_id for r in rows
    )
    assert list(chain.from_iterable(r[1:-1] for r in rows)) == flat[: packed.num_rows * 15]
    special_ids = set(tokenizer.all_special_ids)
    assert special == [[int(t in special_ids) for t in r] for r in rows]
    assert any(tokenizer.unk_token_id in r[1:-1] for r in rows)


def test_packing_per_map_batch_drops_less_than_one_sequence_a_batch(tokenizer) -> None:
    docs = make_corpus(100, seed=9)
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": docs})})
    packed = tokenize_and_pack(raw, tokenizer, 32, batch_size=10)["train"]
    total = sum(len(x) for x in tokenizer(docs, add_special_tokens=False)["input_ids"])
    assert total - 10 * 30 < packed.num_rows * 30 <= total


def test_packing_cuts_documents_to_max_chars(tokenizer) -> None:
    docs = make_corpus(60, seed=10)
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": docs})})
    packed = tokenize_and_pack(raw, tokenizer, 12, max_chars_per_document=20, batch_size=10_000)["train"]
    flat = list(chain.from_iterable(tokenizer([d[:20] for d in docs], add_special_tokens=False)["input_ids"]))
    assert (
        list(chain.from_iterable(r[1:-1] for r in list(packed["input_ids"]))) == flat[: packed.num_rows * 10]
    )


def test_packing_runs_under_main_process_first_and_feeds_the_collator(tokenizer) -> None:
    entered = []

    @contextmanager
    def main_process_first() -> Iterator[None]:
        entered.append(True)
        yield

    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": make_corpus(40, seed=11)})})
    packed = tokenize_and_pack(raw, tokenizer, 24, main_process_first=main_process_first)["train"]
    assert entered == [True]
    batch = DataCollatorForJepaMlm(tokenizer)([packed[i] for i in range(8)])
    assert batch["clean_input_ids"].tolist() == list(packed["input_ids"])[:8]
    assert batch["attention_mask"].all()


def test_packing_errors(tokenizer) -> None:
    raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["one short text."]})})
    with pytest.raises(ValueError, match="no sequence of max_seq_length=64"):
        tokenize_and_pack(raw, tokenizer, 64)
    with pytest.raises(ValueError, match="max_seq_length=2"):
        tokenize_and_pack(raw, tokenizer, 2)


def test_missing_paths_raise_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dataset folder not found: './no/such/wiki'"):
        load_raw_datasets("./no/such/wiki")
    with pytest.raises(FileNotFoundError, match=r"missing\.jsonl"):
        load_raw_datasets(train_file=str(tmp_path / "missing.jsonl"))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("x")
    with pytest.raises(FileNotFoundError, match="holds no data file; accepted suffixes: .txt"):
        load_raw_datasets(train_file=str(tmp_path / "notes"))
    with pytest.raises(FileNotFoundError, match=r"validation\.txt"):
        load_raw_datasets(
            train_file=str(write_rows(tmp_path / "t.txt", ["a"])),
            validation_file=str(tmp_path / "validation.txt"),
        )


def test_bad_inputs_raise_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ValueError, match="dataset is empty"):
        load_raw_datasets(train_file=str(empty))
    with pytest.raises(ValueError, match=r"text_column='body' is not a column .* \['id', 'text'\]"):
        load_raw_datasets(train_file=str(write_rows(tmp_path / "a.jsonl", ["x y"] * 5)), text_column="body")
    with pytest.raises(
        ValueError, match="'text' of the train split is empty: its first 6 texts are all empty or blank"
    ):
        load_raw_datasets(train_file=str(write_rows(tmp_path / "b.jsonl", ["", " ", "\n", "", "\t", ""])))
    with pytest.raises(ValueError, match="too few to hold out"):
        load_raw_datasets(train_file=str(write_rows(tmp_path / "c.jsonl", ["just one"])))
    write_rows(tmp_path / "mixed" / "a.txt", ["x"])
    write_rows(tmp_path / "mixed" / "b.jsonl", ["y"])
    with pytest.raises(ValueError, match=r"mix formats \['json', 'text'\]"):
        load_raw_datasets(train_file=str(tmp_path / "mixed"))
    with pytest.raises(ValueError, match="unsupported data files"):
        load_raw_datasets(train_file=str(write_rows(tmp_path / "d.txt", ["x"]).rename(tmp_path / "d.xml")))
    with pytest.raises(ValueError, match="exactly one of dataset_name"):
        load_raw_datasets()
    with pytest.raises(ValueError, match="validation_split_percentage=0"):
        load_raw_datasets(train_file=str(tmp_path / "a.jsonl"), validation_split_percentage=0)


def test_check_text_column_on_an_empty_dataset() -> None:
    with pytest.raises(ValueError, match=r"the train split is empty \(0 rows\)"):
        check_text_column(datasets.Dataset.from_dict({"text": []}), "text", "the train split")
    with pytest.raises(ValueError, match="holds int values"):
        check_text_column(datasets.Dataset.from_dict({"text": [1, 2]}), "text")


def test_builtin_synthetic_corpus_needs_no_file_nor_network() -> None:
    raw = load_raw_datasets("builtin:synthetic", validation_split_percentage=5, seed=0)
    assert raw["train"].num_rows + raw["validation"].num_rows == SYNTHETIC_DOCUMENTS
    assert raw["validation"].num_rows == round(SYNTHETIC_DOCUMENTS * 0.05)
    assert list(raw["train"]["text"][:3]) == [
        t for t in generate_corpus(3000, seed=0) if t in raw["train"]["text"][:3]
    ]
    streamed = load_raw_datasets("builtin:synthetic", streaming=True)
    assert isinstance(streamed, datasets.IterableDatasetDict) and next(iter(streamed["train"]))["text"]


def test_unavailable_sources_name_the_value_how_it_was_read_and_the_flags(tmp_path: Path) -> None:
    # the tests run offline (conftest sets HF_HUB_OFFLINE): a Hub id not in the cache cannot be loaded
    with pytest.raises(
        SourceUnavailableError,
        match=r"'nobody-xyz/no-such-corpus', treated as a Hub id .*--dataset_name .*--dataset_config_name.*--train_file",
    ):
        load_raw_datasets("nobody-xyz/no-such-corpus", "en", cache_dir=str(tmp_path / "c"))
    with pytest.raises(
        FileNotFoundError, match=r"'\.\./nowhere/wiki', treated as a local path .*--dataset_name"
    ):
        load_raw_datasets("../nowhere/wiki")
    with pytest.raises(
        FileNotFoundError, match=r"'corpus/none\.txt', treated as a local path .*--train_file"
    ):
        load_raw_datasets(train_file="corpus/none.txt")
    with pytest.raises(
        SourceUnavailableError,
        match=r"(?s)tokenizer 'nobody-xyz/no-tokenizer', treated as a Hub id.*--tokenizer_name",
    ):
        load_or_train_tokenizer("nobody-xyz/no-tokenizer", cache_dir=str(tmp_path / "c"))
    with pytest.raises(FileNotFoundError, match=r"treated as a local path .*--tokenizer_name"):
        load_or_train_tokenizer("./no/such/tokenizer")


def test_held_out_rows_are_those_of_train_test_split_in_file_order(tmp_path: Path) -> None:
    """The held-out rows are the ones `Dataset.train_test_split` picks with the same seed, but both parts keep
    the file's order (train_test_split returns them in permutation order, which would change the packing)."""
    docs = make_corpus(50, seed=3)
    raw = load_raw_datasets(
        train_file=str(write_rows(tmp_path / "a.txt", docs)), validation_split_percentage=10, seed=5
    )
    split = datasets.Dataset.from_dict({"text": docs}).train_test_split(test_size=5, seed=5)
    assert set(raw["validation"]["text"]) == set(split["test"]["text"])
    assert list(raw["validation"]["text"]) == [d for d in docs if d in set(split["test"]["text"])]
    assert list(raw["train"]["text"]) == [d for d in docs if d in set(split["train"]["text"])]
    assert list(split["train"]["text"]) != list(raw["train"]["text"])  # the library's order is not the file's


def test_folder_inference_of_datasets_drops_other_formats(tmp_path: Path) -> None:
    """Why data files are resolved by hand: `load_dataset(<folder>)` keeps the most common format only."""
    write_rows(tmp_path / "mixed" / "a.txt", ["from the text file"])
    write_rows(tmp_path / "mixed" / "b.jsonl", ["json one"])
    write_rows(tmp_path / "mixed" / "c.jsonl", ["json two"])
    inferred = datasets.load_dataset(str(tmp_path / "mixed"), cache_dir=str(tmp_path / "c"))
    assert "from the text file" not in inferred["train"]["text"]
    with pytest.raises(ValueError, match=r"mix formats \['json', 'text'\]"):
        load_raw_datasets(train_file=str(tmp_path / "mixed"))
