"""Pre-training data: load raw text (Hub, local Hub-layout folder or files), the tokenizer, and packed sequences."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from itertools import chain
from pathlib import Path
from typing import Any

import datasets
import numpy as np
from transformers import AutoTokenizer, BertTokenizer, PreTrainedTokenizerBase

from ..files import is_path_like as _is_path_like

logger = logging.getLogger(__name__)

# File suffix -> `datasets` packaged builder (the run_mlm.py convention, plus jsonl and parquet).
DATA_FILE_BUILDERS = {
    ".txt": "text",
    ".text": "text",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".csv": "csv",
}
BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# Datasets built in memory, for runs on any machine with no file and no network. A colon cannot occur in a Hub
# id, so these names never shadow a Hub dataset.
SYNTHETIC_CORPUS = "builtin:synthetic"
SYNTHETIC_DOCUMENTS = 3000
BUILTIN_DATASETS = (SYNTHETIC_CORPUS,)
DATA_FLAGS = (
    "--dataset_name (a Hub id, a local folder in Hub layout, or builtin:synthetic), --dataset_config_name, "
    "--train_file (local text/json/jsonl/parquet/csv files or folders)"
)
TEXT_SCAN_ROWS = 100_000

AnyDatasetDict = datasets.DatasetDict | datasets.IterableDatasetDict
AnyDataset = datasets.Dataset | datasets.IterableDataset


def resolve_data_files(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> tuple[str, list[str]]:
    """Expand files and folders of files into `(builder, files)` for `datasets.load_dataset(builder, ...)`.

    Kept by hand because `datasets.load_dataset(<folder>)` infers one builder from the most common suffix and
    silently drops the files of other formats (a folder of a.txt and b.jsonl loads b.jsonl only), where this
    fails naming both (tests/test_data.py::test_folder_inference_of_datasets_drops_other_formats).

    A folder contributes every non-hidden file below it whose suffix is in `DATA_FILE_BUILDERS`; all
    files must share one builder.

    Raises:
        FileNotFoundError: a path does not exist, or a folder holds no data file.
        ValueError: unsupported suffixes, files of several formats, or only empty files (0-byte files
            among others are skipped with a warning).
    """
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise FileNotFoundError(
                f"data file or folder not found: {str(raw)!r}; "
                + _unavailable(
                    "data files", str(raw), True, "--train_file / --validation_file, or " + DATA_FLAGS
                )
            )
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix in DATA_FILE_BUILDERS
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise FileNotFoundError(
                    f"folder {str(raw)!r} holds no data file; accepted suffixes: {', '.join(DATA_FILE_BUILDERS)}"
                )
            files.extend(found)
        else:
            files.append(path)
    unknown = [str(p) for p in files if p.suffix not in DATA_FILE_BUILDERS]
    if unknown:
        raise ValueError(
            f"unsupported data files {unknown[:5]}; accepted suffixes: {', '.join(DATA_FILE_BUILDERS)}"
        )
    # `datasets` fails with an opaque error on a 0-byte file: skip those, and call an all-empty input empty.
    empty = [str(p) for p in files if p.stat().st_size == 0]
    if len(empty) == len(files):
        raise ValueError(f"the dataset is empty: every data file is empty ({empty[:5]})")
    if empty:
        logger.warning("skipping %d empty data files: %s", len(empty), empty[:5])
        files = [p for p in files if p.stat().st_size > 0]
    builders = {DATA_FILE_BUILDERS[p.suffix] for p in files}
    if len(builders) > 1:
        raise ValueError(
            f"data files mix formats {sorted(builders)}; give files of one format: {[str(p) for p in files[:5]]}"
        )
    return builders.pop(), [str(p) for p in files]


class SourceUnavailableError(OSError):
    """A dataset or tokenizer could not be loaded; the message says how the name was read and what to pass."""


def _unavailable(kind: str, value: str, as_path: bool, flags: str, err: BaseException | None = None) -> str:
    """The message for a `kind` (dataset, tokenizer) named `value` that could not be loaded."""
    how = (
        f"treated as a local path ({Path(value).expanduser().resolve()} does not exist)"
        if as_path
        else "treated as a Hub id (not found on the Hub, or no network / offline mode and not in the cache)"
    )
    cause = f": {type(err).__name__}: {str(err).rstrip('.')}" if err is not None else ""
    return f"cannot load the {kind} {value!r}, {how}{cause}. Give another with {flags}"


def synthetic_corpus(num_documents: int = SYNTHETIC_DOCUMENTS, seed: int = 0) -> datasets.DatasetDict:
    """`builtin:synthetic`: the quickstart's seeded synthetic English corpus (`quickstart.synthetic`), one `text`
    column, built in memory."""
    from ..quickstart.synthetic import generate_corpus  # a leaf module (pandas only); imported on use

    texts = generate_corpus(num_documents, seed=seed)
    return datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": texts})})


def _column_names(dataset: AnyDataset) -> list[str]:
    """Column names, peeking at the first example of a stream whose features are unknown."""
    if dataset.column_names is not None:
        return list(dataset.column_names)
    first = next(iter(dataset), None)
    return [] if first is None else list(first)


def check_text_column(dataset: AnyDataset, text_column: str, name: str = "dataset") -> None:
    """Fail early on an empty dataset, a missing text column, or a text column without any text.

    Scans at most the first `TEXT_SCAN_ROWS` rows, stopping at the first non-blank text.

    Raises:
        ValueError: naming `name` and, for a missing column, the available columns.
    """
    if isinstance(dataset, datasets.Dataset) and dataset.num_rows == 0:
        raise ValueError(f"{name} is empty (0 rows)")
    columns = _column_names(dataset)
    if not columns:
        raise ValueError(f"{name} is empty (0 rows)")
    if text_column not in columns:
        raise ValueError(
            f"text_column={text_column!r} is not a column of {name}; available columns: {columns}"
        )
    seen = 0
    for batch in dataset.select_columns([text_column]).iter(batch_size=1000):
        for text in batch[text_column]:
            if text is not None and not isinstance(text, str):
                raise ValueError(
                    f"text_column={text_column!r} of {name} holds {type(text).__name__} values; accepted: strings"
                )
            if text and text.strip():
                return
        seen += len(batch[text_column])
        if seen >= TEXT_SCAN_ROWS:
            break
    if seen == 0:
        raise ValueError(f"{name} is empty (0 rows)")
    raise ValueError(
        f"text_column={text_column!r} of {name} is empty: its first {seen} texts are all empty or blank"
    )


def _hold_out(
    train: AnyDataset, percentage: float, streaming_examples: int, seed: int
) -> tuple[AnyDataset, AnyDataset]:
    """Split `(train, validation)`: a seeded `percentage` % of the rows, or the first examples of a stream."""
    if isinstance(train, datasets.IterableDataset):
        logger.info("no validation split: holding out the first %d streamed examples", streaming_examples)
        return train.skip(streaming_examples), train.take(streaming_examples)
    n = train.num_rows
    n_val = max(1, round(n * percentage / 100))
    if n - n_val < 1:
        raise ValueError(
            f"the train split has {n} rows, too few to hold out validation_split_percentage={percentage} % "
            "for validation; give more data or a validation_file"
        )
    # The rows `Dataset.train_test_split(test_size=n_val, seed=seed)` would hold out (it draws the same
    # `default_rng(seed).permutation(n)`), but both parts kept in file order: train_test_split returns them in
    # permutation order and does not expose its indices, and the order sets which documents the packing joins
    # into one sequence, so it would change the training sequences of runs made before
    # (tests/test_data.py::test_held_out_rows_are_those_of_train_test_split_in_file_order).
    perm = np.random.default_rng(seed).permutation(n)
    logger.info(
        "no validation split: holding out %d of %d rows (%.3g %%, seed %d)", n_val, n, percentage, seed
    )
    return train.select(np.sort(perm[n_val:])), train.select(np.sort(perm[:n_val]))


def load_raw_datasets(
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    train_file: str | Sequence[str] | None = None,
    validation_file: str | Sequence[str] | None = None,
    *,
    streaming: bool = False,
    text_column: str = "text",
    validation_split_percentage: float = 1.0,
    validation_split_examples: int = 1000,
    seed: int = 42,
    cache_dir: str | None = None,
) -> AnyDatasetDict:
    """Load raw pre-training text with `train` and `validation` splits (the run_mlm.py convention).

    Sources, exactly one of:
        `dataset_name` (+ `dataset_config_name`): a Hub dataset such as `wikimedia/wikipedia` /
            `20231101.en`, a local folder in Hub layout (e.g. `/data/wikipedia`, `2015.en`), or `builtin:synthetic`;
        `train_file`: text/json/jsonl/parquet/csv files, or folders of them (one format).
    Without a validation split or `validation_file`, a held-out slice is cut from train: a seeded
    `validation_split_percentage` % of the rows, or the first `validation_split_examples` of a stream
    (which train then skips).

    Returns:
        A `DatasetDict` (an `IterableDatasetDict` when `streaming`) with `train` and `validation`, each
        checked by `check_text_column`.

    Raises:
        FileNotFoundError: a local folder or file that does not exist.
        ValueError: no source or two sources, no train split, an empty split, a missing or empty text column.
    """
    if (dataset_name is None) == (train_file is None):
        raise ValueError(
            f"give exactly one of dataset_name (got {dataset_name!r}) and train_file (got {train_file!r})"
        )
    if not 0 < validation_split_percentage < 100:
        raise ValueError(
            f"validation_split_percentage={validation_split_percentage!r} is not valid; accepted values: (0, 100)"
        )
    common: dict[str, Any] = {"streaming": streaming, "cache_dir": cache_dir}
    if dataset_name in BUILTIN_DATASETS:
        raw = synthetic_corpus()
        if streaming:
            raw = datasets.IterableDatasetDict({k: v.to_iterable_dataset() for k, v in raw.items()})
    elif dataset_name is not None:
        local = Path(dataset_name).expanduser()
        if local.is_file():
            builder, files = resolve_data_files(local)
            raw = datasets.load_dataset(builder, data_files={"train": files}, **common)
        elif local.is_dir() or not _is_path_like(dataset_name):
            try:
                raw = datasets.load_dataset(
                    str(local) if local.is_dir() else dataset_name, dataset_config_name, **common
                )
            except OSError as err:  # ConnectionError (offline), DatasetNotFoundError, a missing data file
                raise SourceUnavailableError(
                    _unavailable(
                        f"dataset (config {dataset_config_name!r})", dataset_name, False, DATA_FLAGS, err
                    )
                ) from err
        else:
            raise FileNotFoundError(
                f"dataset folder not found: {dataset_name!r}; "
                + _unavailable("dataset", dataset_name, True, DATA_FLAGS)
            )
    else:
        builder, files = resolve_data_files(train_file)
        raw = datasets.load_dataset(builder, data_files={"train": files}, **common)
    if "train" not in raw:
        raise ValueError(f"the dataset has no 'train' split; splits found: {list(raw)}")
    out = {"train": raw["train"]}
    if validation_file is not None:
        builder, files = resolve_data_files(validation_file)
        out["validation"] = datasets.load_dataset(builder, data_files={"validation": files}, **common)[
            "validation"
        ]
    elif "validation" in raw:
        out["validation"] = raw["validation"]
    else:
        check_text_column(out["train"], text_column, "the train split")
        out["train"], out["validation"] = _hold_out(
            out["train"], validation_split_percentage, validation_split_examples, seed
        )
    for split, dataset in out.items():
        check_text_column(dataset, text_column, f"the {split} split")
    return datasets.IterableDatasetDict(out) if streaming else datasets.DatasetDict(out)


def iter_texts(
    dataset: AnyDataset,
    text_column: str = "text",
    *,
    batch_size: int = 1000,
    max_chars_per_document: int | None = None,
    max_texts: int | None = None,
) -> Iterator[list[str]]:
    """Batches of non-blank texts (cut to `max_chars_per_document`), e.g. to train a tokenizer.

    `max_texts` stops after that many rows, so a tokenizer can learn from the start of a stream.
    """
    rows = dataset if max_texts is None else dataset.take(max_texts)
    for batch in rows.select_columns([text_column]).iter(batch_size=batch_size):
        yield [t[:max_chars_per_document] for t in batch[text_column] if t and t.strip()]


def train_wordpiece_tokenizer(
    texts: Iterable[str] | Iterable[list[str]],
    vocab_size: int = 30522,
    *,
    min_frequency: int = 2,
    model_max_length: int = 512,
) -> BertTokenizer:
    """Train an uncased BERT WordPiece tokenizer (Devlin et al. 2019; Wu et al. 2016) with `tokenizers`.

    Pipeline of bert-base-uncased: `BertNormalizer(lowercase=True)` (accents stripped, control
    characters cleaned, CJK characters split), `BertPreTokenizer`, WordPiece with `##` continuations;
    special tokens `[PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4`; the `[CLS] A [SEP] (B [SEP])`
    post-processor. Returned as transformers' fast `BertTokenizer`, so `save_pretrained` writes a
    `tokenizer.json` that `AutoTokenizer` loads.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(BERT_SPECIAL_TOKENS),
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    vocab = tokenizer.get_vocab()
    if len(vocab) <= len(BERT_SPECIAL_TOKENS):
        raise ValueError("tokenizer training learned no token: the training texts are empty")
    # BertTokenizer rebuilds exactly the pipeline above around the learned vocabulary, adding the post-processor.
    return BertTokenizer(vocab=vocab, do_lower_case=True, model_max_length=model_max_length)


def load_or_train_tokenizer(
    tokenizer_name: str | None,
    texts: Iterable[str] | Iterable[list[str]] | None = None,
    vocab_size: int = 30522,
    output_dir: str | os.PathLike | None = None,
    *,
    min_frequency: int = 2,
    model_max_length: int = 512,
    cache_dir: str | None = None,
) -> PreTrainedTokenizerBase:
    """The pre-training tokenizer: a given one, or one trained on the corpus and saved.

    `tokenizer_name` (a Hub id or a local folder) is loaded with `AutoTokenizer`. Without it, a tokenizer
    already saved in `output_dir` (a resumed run) is reused; otherwise `train_wordpiece_tokenizer` learns
    one from `texts` and, when `output_dir` is given, saves it there. Call it on the main process first
    (or on every process with the same texts: WordPiece training is deterministic).

    Raises:
        FileNotFoundError: `tokenizer_name` names a local folder that does not exist.
        ValueError: no tokenizer name and no texts to train on.
    """
    flags = "--tokenizer_name (a Hub id or a local folder), or leave it out to train a WordPiece tokenizer on the corpus"
    if tokenizer_name is not None:
        local = Path(tokenizer_name).expanduser()
        if _is_path_like(tokenizer_name) and not local.exists():
            raise FileNotFoundError(
                f"tokenizer folder not found: {tokenizer_name!r}; "
                + _unavailable("tokenizer", tokenizer_name, True, flags)
            )
        try:
            return AutoTokenizer.from_pretrained(
                str(local) if local.exists() else tokenizer_name, cache_dir=cache_dir
            )
        except OSError as err:  # offline and not cached, or no such repository
            raise SourceUnavailableError(
                _unavailable("tokenizer", tokenizer_name, local.exists(), flags, err)
            ) from err
    if output_dir is not None and (Path(output_dir) / "tokenizer.json").is_file():
        logger.info("reusing the tokenizer saved in %s", output_dir)
        return AutoTokenizer.from_pretrained(str(output_dir))
    if texts is None:
        raise ValueError(
            "no tokenizer_name and no texts: give a tokenizer (Hub id or folder) or texts to train one on"
        )
    tokenizer = train_wordpiece_tokenizer(
        texts, vocab_size, min_frequency=min_frequency, model_max_length=model_max_length
    )
    logger.info(
        "trained a WordPiece tokenizer with %d tokens (vocab_size=%d asked)", len(tokenizer), vocab_size
    )
    if output_dir is not None:
        tokenizer.save_pretrained(str(output_dir))
    return tokenizer


def check_tokenizer_fits(
    tokenizer: PreTrainedTokenizerBase,
    vocab_size: int,
    *,
    pad_token_id: int | None = None,
    mask_token_id: int | None = None,
) -> None:
    """Fail before training when the tokenizer does not fit the model.

    Raises:
        ValueError: the tokenizer has more tokens than `vocab_size` (ids would overflow the embedding),
            lacks `[MASK]`, `[PAD]`, `[CLS]` or `[SEP]`, or its pad/mask ids differ from the config's.
    """
    if len(tokenizer) > vocab_size:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens but the model's vocab_size={vocab_size}; "
            f"accepted: vocab_size >= {len(tokenizer)}"
        )
    for name in ("mask_token", "pad_token", "cls_token", "sep_token"):
        if getattr(tokenizer, f"{name}_id", None) is None:
            raise ValueError(
                f"the tokenizer has no {name}; accepted: a tokenizer with {name} set (BERT-style)"
            )
    for name, expected in (("pad_token_id", pad_token_id), ("mask_token_id", mask_token_id)):
        if expected is not None and getattr(tokenizer, name) != expected:
            raise ValueError(
                f"the config's {name}={expected} but the tokenizer's is {getattr(tokenizer, name)}"
            )


def tokenize_and_pack(
    raw_datasets: AnyDatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    max_seq_length: int,
    *,
    text_column: str = "text",
    num_proc: int | None = None,
    main_process_first: Callable[[], AbstractContextManager] | None = None,
    max_chars_per_document: int | None = None,
    batch_size: int = 1000,
    load_from_cache_file: bool = True,
) -> AnyDatasetDict:
    """Tokenize every text once, then pack the token stream into full sequences of `max_seq_length`.

    Stage 1 (cached by `datasets`, reused when only `max_seq_length` changes): each non-blank text, cut
    to its first `max_chars_per_document` characters if set (the paper used 512), is tokenized without
    special tokens. Stage 2, as run_mlm.py's `group_texts`: the texts of each map batch are concatenated
    and cut into chunks of `max_seq_length - 2` tokens, each written as `[CLS] chunk [SEP]`; the last
    incomplete chunk of each batch is dropped. Streams are mapped lazily the same way.

    Args:
        main_process_first: a context-manager factory such as `TrainingArguments.main_process_first` or
            `Accelerator.main_process_first`, so the main process fills the cache before the others read it.

    Returns:
        The same splits with columns `input_ids` (int32) and `special_tokens_mask` (int8, 1 at special
        tokens), every row exactly `max_seq_length` long.

    Raises:
        ValueError: `max_seq_length < 3`, or a (non-streamed) split too short for one sequence.
    """
    if max_seq_length < 3:
        raise ValueError(f"max_seq_length={max_seq_length} is not valid; accepted values: an integer >= 3")
    check_tokenizer_fits(tokenizer, len(tokenizer))
    body = max_seq_length - 2
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    special_ids = np.array(sorted(set(tokenizer.all_special_ids)))

    def tokenize(batch: dict[str, list]) -> dict[str, list]:
        texts = [t[:max_chars_per_document] for t in batch[text_column] if t and t.strip()]
        encoded = tokenizer(
            texts,
            add_special_tokens=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
        return {"input_ids": encoded["input_ids"]}

    def pack(batch: dict[str, list]) -> dict[str, Any]:
        flat = np.fromiter(chain.from_iterable(batch["input_ids"]), dtype=np.int64)
        n = len(flat) // body
        ids = np.empty((n, max_seq_length), dtype=np.int64)  # (N, L): [CLS] chunk [SEP]
        ids[:, 0], ids[:, -1] = cls_id, sep_id
        ids[:, 1:-1] = flat[: n * body].reshape(n, body)
        return {
            "input_ids": ids.tolist(),
            "special_tokens_mask": np.isin(ids, special_ids).astype(np.int8).tolist(),
        }

    tokenized_features = datasets.Features({"input_ids": datasets.Sequence(datasets.Value("int32"))})
    packed_features = datasets.Features(
        {
            "input_ids": datasets.Sequence(datasets.Value("int32")),
            "special_tokens_mask": datasets.Sequence(datasets.Value("int8")),
        }
    )
    out = {}
    with main_process_first() if main_process_first is not None else nullcontext():
        for split, dataset in raw_datasets.items():
            streamed = isinstance(dataset, datasets.IterableDataset)

            def options(desc: str, streamed: bool = streamed) -> dict[str, Any]:
                common = {"batched": True, "batch_size": batch_size}
                if streamed:  # IterableDataset.map is lazy: no processes, cache nor progress bar
                    return common
                return {
                    **common,
                    "num_proc": num_proc,
                    "load_from_cache_file": load_from_cache_file,
                    "desc": desc,
                }

            tokenized = dataset.map(
                tokenize,
                remove_columns=_column_names(dataset),
                features=tokenized_features,
                **options(f"Tokenizing {split}"),
            )
            out[split] = tokenized.map(
                pack,
                features=packed_features,
                **options(f"Packing {split} into sequences of {max_seq_length}"),
            )
            if not streamed and out[split].num_rows == 0:
                raise ValueError(
                    f"the {split} split yields no sequence of max_seq_length={max_seq_length} tokens: its texts hold "
                    f"{sum(map(len, tokenized['input_ids']))} tokens in all; give more text or a smaller max_seq_length"
                )
            if not streamed:
                logger.info("%s: %d sequences of %d tokens", split, out[split].num_rows, max_seq_length)
    return (
        datasets.IterableDatasetDict(out)
        if isinstance(raw_datasets, datasets.IterableDatasetDict)
        else datasets.DatasetDict(out)
    )
