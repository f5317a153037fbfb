"""Frozen-encoder probing: the paper's extra poolings, encoding with an on-disk cache, and the linear probes."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import logging
import os
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..files import is_path_like, lookup
from ..pooling import POOLERS, POOLERS_NEEDING_HIDDEN_STATES, PoolFn
from .claims import chance_level, headline_metric
from .glue import compute_metrics, spearman
from .metrics import cosine_rows, l2_normalize, most_frequent_token, probe_gap, semantic_lexical_balance
from .protocols import ProbeConfig
from .tasks import TaskSpec

logger = logging.getLogger(__name__)


def weighted_pool(
    last_hidden_state: torch.Tensor,
    attention_mask: torch.Tensor,
    hidden_states: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """The paper's `weighted` pooling: `z = sum_t w_t h_t` with `w_t = m_t / sum_s m_s` (mask normalised).

    The weights are the attention mask normalised to sum to one, so this is exactly the masked mean
    (`mean_pool`); it is kept as its own name so the paper's four poolings can be reported cell by cell.

    Returns:
        (B, D) pooled states.
    """
    w = attention_mask.to(last_hidden_state.dtype)  # (B, L)
    w = w / w.sum(1, keepdim=True).clamp_min(1.0)
    return torch.einsum("bl,bld->bd", w, last_hidden_state)


def attention_pool(
    last_hidden_state: torch.Tensor,
    attention_mask: torch.Tensor,
    hidden_states: Sequence[torch.Tensor] | None = None,
    seed: int = 0,
    n_queries: int = 1,
) -> torch.Tensor:
    """The paper's `attention` pooling with fixed random queries, seeded so that runs and models agree.

    For each of `n_queries` queries `q_k ~ N(0, I_D)` drawn from `torch.Generator().manual_seed(seed + k)` (the
    same for every batch), `a_kt = softmax_t(h_t . q_k / sqrt(D))` over the real tokens (padding gets weight 0)
    and `z = (1 / K) sum_k sum_t a_kt h_t`. It is parameter-free: the paper's untrained attention pooler with
    its initial query, averaged over K draws so that a result does not hinge on one draw.

    Returns:
        (B, D) pooled states, same dtype as `last_hidden_state`.
    """
    if n_queries < 1:
        raise ValueError(f"n_queries must be >= 1, got {n_queries}")
    dim = last_hidden_state.shape[-1]
    queries = torch.stack(
        [torch.randn(dim, generator=torch.Generator().manual_seed(seed + k)) for k in range(n_queries)]
    ).to(last_hidden_state)  # (K, D)
    scores = torch.einsum("bld,kd->bkl", last_hidden_state, queries) / dim**0.5  # (B, K, L)
    scores = scores.masked_fill(attention_mask[:, None, :] == 0, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores.float(), dim=-1).to(last_hidden_state.dtype)  # (B, K, L)
    return torch.einsum("bkl,bld->bd", weights, last_hidden_state) / n_queries


# Every pooling the probe knows: the model's parameter-free poolers plus the paper's two analysis-only ones.
PROBE_POOLERS: dict[str, PoolFn] = {**POOLERS, "weighted": weighted_pool, "attention": attention_pool}


def get_probe_pooler(name: str) -> PoolFn:
    """Look up a pooling of `PROBE_POOLERS`.

    Raises:
        ValueError: naming the unknown pooling and listing the valid ones.
    """
    return lookup(PROBE_POOLERS, name, "pooling")


def resolve_model_path(path: str) -> str:
    """Return `path` if it is an existing folder or could be a Hub id (`files.is_path_like` is false).

    Raises:
        FileNotFoundError: `path` can only be a local path (absolute, `./`, `~`, more than one `/`) and does
            not exist, or it is an existing file rather than a folder.
    """
    if os.path.isdir(path):
        return path
    if os.path.exists(path):
        raise FileNotFoundError(f"model path {path!r} is a file; expected a model folder or a Hub id")
    if is_path_like(path):
        raise FileNotFoundError(
            f"model folder {path!r} does not exist; pass an existing folder (save_pretrained output) "
            "or a Hub id like 'org/name'"
        )
    return path


def model_fingerprint(path: str) -> str:
    """A cache key for a model: for a folder, the names, sizes and mtimes of its files; for a Hub id, the id."""
    if not os.path.isdir(path):
        return f"hub:{path}"
    entries = []
    for root, _, files in os.walk(path):
        for name in sorted(files):
            stat = os.stat(os.path.join(root, name))
            entries.append((os.path.relpath(os.path.join(root, name), path), stat.st_size, stat.st_mtime_ns))
    return "dir:" + os.path.abspath(path) + ":" + hashlib.sha256(repr(sorted(entries)).encode()).hexdigest()


def pick_device(device: str | None) -> torch.device:
    """`device` as given, or CUDA when available, else CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class LoadedEncoder:
    """A frozen encoder ready for `encode_texts`."""

    model: torch.nn.Module
    tokenizer: object
    path: str
    fingerprint: str
    device: torch.device
    passes_token_type_ids: bool

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def is_causal_only(config) -> bool:
    """Whether the architecture is a decoder-only language model (GPT-2, Llama, ...): it has a causal-LM class
    in transformers' Auto mapping and no masked-LM one, so its token states see only the left context."""
    from transformers import MODEL_FOR_CAUSAL_LM_MAPPING, MODEL_FOR_MASKED_LM_MAPPING

    kind = type(config)
    return kind in MODEL_FOR_CAUSAL_LM_MAPPING and kind not in MODEL_FOR_MASKED_LM_MAPPING


def load_encoder(path: str, *, device: str | None = None, trust_remote_code: bool = False) -> LoadedEncoder:
    """Load any `AutoModel` encoder and its tokenizer in eval mode.

    - An encoder-decoder model (T5, BART) is probed through its encoder (`get_encoder()`): the decoder needs
      target tokens, and the encoder's bidirectional states are what sentence encoders built on these models
      read (e.g. Sentence-T5).
    - A decoder-only model (GPT-2) runs, with a warning: each token state sees only the tokens before it, so
      `cls` pooling reads the first token alone and mean pooling leans on the sentence's end.
    - A tokenizer without a padding token (GPT-2) pads with its end-of-sequence token; the attention mask
      keeps padding out of every pooling.
    - `token_type_ids` are passed only when the model's `forward` takes them (checked on its signature).

    Args:
        trust_remote_code: run the repository's own modelling code (transformers' default: False). jepa-mlm
            folders load without it: importing this package registers their classes with the Auto classes.

    Raises:
        FileNotFoundError: a model folder that does not exist, or a name that is neither a folder nor a
            loadable Hub id (e.g. offline).
        ValueError: the model needs its own code and `trust_remote_code` is off (says which flag to pass).
    """
    from transformers import AutoModel, AutoTokenizer

    path = resolve_model_path(path)
    target = pick_device(device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        model = AutoModel.from_pretrained(path, trust_remote_code=trust_remote_code)
    except OSError as err:
        if os.path.isdir(path):
            raise
        raise FileNotFoundError(
            f"model {path!r} is not an existing folder and could not be loaded as a Hub id: {err}"
        ) from err
    except ValueError as err:
        if trust_remote_code or "trust_remote_code" not in str(err):
            raise
        raise ValueError(
            f"model {path!r} ships its own modelling code, which runs only when you allow it: pass "
            "--trust_remote_code (trust_remote_code=True) if you trust that repository"
        ) from err
    if model.config.is_encoder_decoder and hasattr(model, "get_encoder"):
        logger.info("%s is an encoder-decoder model (%s): probing its encoder", path, type(model).__name__)
        model = model.get_encoder()
    elif is_causal_only(model.config):
        logger.warning(
            "%s is a decoder-only (causal) model (%s): each token state sees only the tokens to its left, so "
            "poolings summarise left contexts (cls pooling reads the first token alone)",
            path,
            type(model).__name__,
        )
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"the tokenizer of {path!r} has neither a padding nor an end-of-sequence token")
        logger.info("%s: the tokenizer has no padding token; padding with %r", path, tokenizer.eos_token)
        tokenizer.pad_token = tokenizer.eos_token
    model = model.to(target).eval()
    takes_types = "token_type_ids" in inspect.signature(model.forward).parameters
    logger.info("loaded %s (%s) on %s", path, type(model).__name__, target)
    return LoadedEncoder(model, tokenizer, path, model_fingerprint(path), target, takes_types)


Texts = Sequence[str] | Sequence[tuple[str, str]]


def _split_pairs(texts: Texts) -> tuple[list[str], list[str] | None]:
    """Strings -> (texts, None); (a, b) pairs -> (firsts, seconds), the tokenizer's pair arguments."""
    if texts and isinstance(texts[0], tuple | list):
        return [t[0] for t in texts], [t[1] for t in texts]
    return list(texts), None


def _autocast(device: torch.device):
    """bf16 autocast on CUDA; full precision elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def encode_texts(
    encoder: LoadedEncoder,
    texts: Texts,
    poolings: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int = 128,
    seed: int = 0,
    attention_queries: int = 1,
    paper_padding: bool = False,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """One forward pass over `texts` gives every pooling.

    Texts are sorted by tokenized length so that batches carry little padding, encoded under
    `torch.inference_mode` (bf16 autocast on CUDA), pooled in float32, and put back in input order.

    Args:
        texts: strings, or (first, second) pairs encoded as one sequence (`[CLS] a [SEP] b [SEP]`).
        poolings: names from `PROBE_POOLERS`.
        seed: seed of the `attention` pooling's first query; attention_queries: how many seeded queries it
            averages over (`attention_pool`).
        paper_padding: encode as the paper's released analysis does: every text padded to `max_length` and
            an attention mask of ones, so the encoder attends to the `[PAD]` positions and the poolers average
            over them too. Off: each batch padded to its longest text, padding masked.

    Returns:
        pooling name -> (N, D) float32 embeddings.
    """
    from tqdm.auto import tqdm

    # `attention` is the one seeded pooler; the others take only the states and the mask.
    pool_fns = {
        name: functools.partial(attention_pool, seed=seed, n_queries=attention_queries)
        if name == "attention"
        else get_probe_pooler(name)
        for name in poolings
    }
    need_hidden = any(name in POOLERS_NEEDING_HIDDEN_STATES for name in poolings)
    first, second = _split_pairs(texts)
    lengths = encoder.tokenizer(first, second, truncation=True, max_length=max_length, return_length=True)[
        "length"
    ]
    order = np.argsort(-np.asarray(lengths), kind="stable")  # longest first: little padding per batch
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in poolings}
    for start in tqdm(range(0, len(order), batch_size), desc="encode", disable=not progress, leave=False):
        idx = order[start : start + batch_size]
        batch = encoder.tokenizer(
            [first[i] for i in idx],
            [second[i] for i in idx] if second is not None else None,
            truncation=True,
            max_length=max_length,
            padding="max_length" if paper_padding else True,
            return_tensors="pt",
        )
        mask = (
            torch.ones_like(batch["attention_mask"]) if paper_padding else batch["attention_mask"]
        )  # (B, L)
        inputs = {"input_ids": batch["input_ids"], "attention_mask": mask}
        if encoder.passes_token_type_ids and "token_type_ids" in batch:
            inputs["token_type_ids"] = batch["token_type_ids"]
        inputs = {k: v.to(encoder.device) for k, v in inputs.items()}
        with torch.inference_mode(), _autocast(encoder.device):
            output = encoder.model(**inputs, output_hidden_states=need_hidden)
        last = output.last_hidden_state.float()  # (B, L, D)
        hidden = tuple(h.float() for h in output.hidden_states) if need_hidden else None
        for name, fn in pool_fns.items():
            chunks[name].append(fn(last, inputs["attention_mask"], hidden).cpu().numpy().astype(np.float32))
    inverse = np.argsort(order)
    return {name: np.concatenate(chunks[name])[inverse] for name in poolings}


def texts_digest(texts: Texts) -> str:
    """sha256 of the texts, so that a cache entry is tied to exactly the examples it encodes."""
    h = hashlib.sha256()
    for t in texts:
        h.update(json.dumps(t).encode())
    return h.hexdigest()


def cached_encode(
    encoder: LoadedEncoder,
    texts: Texts,
    poolings: Sequence[str],
    *,
    cache_dir: str | Path | None,
    key: dict,
    batch_size: int = 64,
    max_length: int = 128,
    seed: int = 0,
    attention_queries: int = 1,
    paper_padding: bool = False,
    progress: bool = True,
) -> tuple[dict[str, np.ndarray], bool]:
    """`encode_texts` behind an `.npz` cache.

    The cache file name holds a sha256 of the model fingerprint (folder files, sizes, mtimes), `key`
    (task, split, side, protocol, limits), the max length, the attention-pooling seed and queries, the
    padding and the texts
    themselves; poolings missing from an existing entry are encoded and added.

    Returns:
        (pooling -> (N, D) float32 embeddings, whether everything came from the cache).
    """
    encode = functools.partial(
        encode_texts,
        encoder,
        texts,
        batch_size=batch_size,
        max_length=max_length,
        seed=seed,
        attention_queries=attention_queries,
        paper_padding=paper_padding,
        progress=progress,
    )
    if cache_dir is None:
        return encode(poolings), False
    blob = json.dumps(
        {
            **key,
            "model": encoder.fingerprint,
            "max_length": max_length,
            "seed": seed,
            # absent for the defaults, so cache entries written before these settings existed still match
            **({"attention_queries": attention_queries} if attention_queries != 1 else {}),
            **({"paper_padding": True} if paper_padding else {}),
            "texts": texts_digest(texts),
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(blob.encode()).hexdigest()[:24]
    label = "-".join(re.sub(r"[^\w.]+", "_", str(key[k])) for k in sorted(key))
    path = Path(cache_dir) / f"{label}-{digest}.npz"
    stored: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as data:
            stored = {name: data[name] for name in data.files}
    missing = [p for p in poolings if p not in stored]
    if missing:
        stored.update(encode(missing))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **stored)
        os.replace(tmp, path)
        logger.debug("cached %s", path)
    return {p: stored[p] for p in poolings}, not missing


def pair_features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Siamese pair features `[u, v, |u - v|, u * v]` (Conneau et al. 2017, InferSent). (N, D) x2 -> (N, 4D)."""
    return np.concatenate([u, v, np.abs(u - v), u * v], axis=1)


def _logistic_kwargs(cls) -> dict:
    """Arguments that keep scikit-learn >= 1.8 quiet about changed defaults, where the class takes them."""
    params = inspect.signature(cls).parameters
    wanted = {"l1_ratios": (0.0,), "scoring": "accuracy", "use_legacy_attributes": False}
    return {k: v for k, v in wanted.items() if k in params}


def _scale(config: ProbeConfig, x_train: np.ndarray, x_eval: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardise both sets with the train mean and standard deviation when the config asks for it."""
    if not config.standardize:
        return x_train, x_eval
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_eval)


def _warn_once(caught: list, what: str) -> None:
    """Log scikit-learn's convergence warnings of one fit as one line instead of one per fold."""
    if caught:
        logger.warning("%s: %d solver warnings, first: %s", what, len(caught), caught[0].message)


# scikit-learn scorer of each GLUE metric, so that C is chosen for the metric the task is scored by (CV on
# accuracy picks the majority class on CoLA, whose Matthews correlation is then 0).
CV_SCORERS = {"accuracy": "accuracy", "f1": "f1", "matthews_correlation": "matthews_corrcoef"}


def logistic_probe(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_eval: np.ndarray,
    config: ProbeConfig,
    seed: int = 0,
    scoring: str = "accuracy",
) -> np.ndarray:
    """Multinomial logistic regression (lbfgs) on frozen features; C by stratified k-fold CV on train.

    Args:
        scoring: scikit-learn scorer name the C search maximises.

    Returns:
        (N_eval,) predicted class ids.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    x_train, x_eval = _scale(config, x_train, x_eval)
    min_class = int(np.min(np.unique(y_train, return_counts=True)[1]))
    folds = min(config.cv_folds, min_class)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        if len(config.cs) > 1 and folds >= 2:
            cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
            model = LogisticRegressionCV(
                Cs=list(config.cs),
                cv=cv,
                max_iter=config.max_iter,
                **{**_logistic_kwargs(LogisticRegressionCV), "scoring": scoring},
            )
        else:
            model = LogisticRegression(C=config.cs[-1], max_iter=config.max_iter)
        model.fit(x_train, y_train)
    _warn_once([w for w in caught if issubclass(w.category, ConvergenceWarning)], "logistic probe")
    return model.predict(x_eval)


def ridge_probe(
    x_train: np.ndarray, y_train: np.ndarray, x_eval: np.ndarray, config: ProbeConfig
) -> np.ndarray:
    """Ridge regression with alpha by efficient leave-one-out CV (`RidgeCV`, one alpha per target).

    `y_train` may be (N,) (STS-B scores) or (N, K) (several targets at once). Returns predictions for x_eval.
    """
    from sklearn.linear_model import RidgeCV

    x_train, x_eval = _scale(config, x_train, x_eval)
    model = RidgeCV(alphas=list(config.alphas), alpha_per_target=np.ndim(y_train) == 2).fit(x_train, y_train)
    return model.predict(x_eval)


def token_probe_labels(token_ids: Sequence[Sequence[int]], special_ids: Sequence[int]) -> np.ndarray:
    """The paper's lexical target of each text: its most frequent non-special word-piece id (-1 if none)."""
    return np.array([most_frequent_token(ids, special_ids) for ids in token_ids], dtype=np.int64)


def content_vocabulary(
    token_ids: Sequence[Sequence[int]], tokenizer, top_k: int, stop_words: frozenset[str] | None = None
) -> list[int]:
    """The `top_k` content word-pieces by document frequency: alphabetic, not a sub-word, not a stop word.

    The targets of the bag-of-words probe. Ties break by id.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stop = ENGLISH_STOP_WORDS if stop_words is None else stop_words
    special = set(tokenizer.all_special_ids)
    df = Counter(t for ids in token_ids for t in set(ids) if t not in special)
    pieces = dict(zip(df, tokenizer.convert_ids_to_tokens(list(df)), strict=True))
    content = [t for t in df if pieces[t].isalpha() and len(pieces[t]) > 1 and pieces[t].lower() not in stop]
    return sorted(content, key=lambda t: (-df[t], t))[:top_k]


def presence_matrix(token_ids: Sequence[Sequence[int]], vocabulary: Sequence[int]) -> np.ndarray:
    """(N, K) 0/1 matrix: does text i contain word-piece `vocabulary[k]`."""
    column = {t: k for k, t in enumerate(vocabulary)}
    out = np.zeros((len(token_ids), len(vocabulary)), dtype=np.int8)
    for i, ids in enumerate(token_ids):
        for t in set(ids):
            if t in column:
                out[i, column[t]] = 1
    return out


def tokenize_ids(tokenizer, texts: Texts, max_length: int) -> list[list[int]]:
    """Token ids of each text (pairs as one sequence), truncated like the encoder's input."""
    first, second = _split_pairs(texts)
    return tokenizer(first, second, truncation=True, max_length=max_length)["input_ids"]


@dataclass
class LexicalTargets:
    """Lexical targets of the texts the lexical probes read (they depend on the model's tokenizer).

    Attributes:
        token_train, token_eval: (N,) the paper's token-probe label (most frequent word-piece, -1 if none).
        bow_train, bow_eval: (N, K) 0/1 presence of the K content word-pieces of the bag-of-words probe.
    """

    token_train: np.ndarray
    token_eval: np.ndarray
    bow_train: np.ndarray
    bow_eval: np.ndarray


def lexical_targets(
    tokenizer, train_texts: Texts, eval_texts: Texts, max_length: int, bow_vocab_size: int
) -> LexicalTargets:
    """Token-probe labels and bag-of-words targets from the word-pieces, truncated like the encoder input."""
    train_ids = tokenize_ids(tokenizer, train_texts, max_length)
    eval_ids = tokenize_ids(tokenizer, eval_texts, max_length)
    vocab = content_vocabulary(train_ids, tokenizer, bow_vocab_size)
    return LexicalTargets(
        token_probe_labels(train_ids, tokenizer.all_special_ids),
        token_probe_labels(eval_ids, tokenizer.all_special_ids),
        presence_matrix(train_ids, vocab),
        presence_matrix(eval_ids, vocab),
    )


@dataclass
class ExampleRecord:
    """Per-example outcomes of one model, task and pooling on the eval split (NaN where not defined).

    Attributes:
        labels: (N,) gold labels or scores.
        predictions: (N,) downstream probe outputs.
        token_correct, token_majority: (N,) 1/0 for the token probe and its majority-class baseline, NaN for
            texts whose label is outside the probe's classes.
        bow_counts: (N, 3) true positives, false positives, false negatives of the bag-of-words probe.
        align_sq: (N,) `||u - v||^2` of unit vectors for positive pairs, NaN for the others; None if no pairs.
        cosine: (N,) `cos(u, v)` of siamese pairs; None without them.
        overlap: (N,) word-overlap Jaccard of each pair; None without pairs.
    """

    task: TaskSpec
    labels: np.ndarray
    predictions: np.ndarray
    token_correct: np.ndarray
    token_majority: np.ndarray
    bow_counts: np.ndarray
    align_sq: np.ndarray | None = None
    cosine: np.ndarray | None = None
    overlap: np.ndarray | None = None


def _nanmean(x: np.ndarray) -> float:
    """Mean over the defined (finite) entries; NaN if there is none."""
    finite = x[np.isfinite(x)]
    return float(finite.mean()) if finite.size else float("nan")


def example_metrics(rec: ExampleRecord, idx: np.ndarray) -> dict[str, float]:
    """Every per-example metric on the eval examples `idx` (all of them, or a bootstrap resample).

    GLUE metrics of the downstream probe (plus accuracy for every classification task); `token_probe_acc`
    and `token_probe_majority`; `bow_probe_f1`, the micro-F1 `2 TP / (2 TP + FP + FN)` summed over texts and
    word-pieces; `probe_gap` = semantic score (accuracy, or Spearman for STS-B) - token probe accuracy;
    `alignment` on positive pairs; on STS-B `cosine_spearmanr` of cos(u, v) with the gold score and the
    semantic-to-lexical `balance`; `probe_headline`, the task's headline metric (`claims.HEADLINE_METRICS`),
    `probe_chance`, the chance level of the task's headline metric on these
    labels (`claims.chance_level`), and `probe_lift`, the headline metric minus it (a cell is informative when
    the lift's interval is above 0).
    """
    task, y = rec.task, rec.labels[idx]
    out = compute_metrics(task.metrics, rec.predictions[idx], y)
    if not task.is_regression:
        out.setdefault("accuracy", float(np.mean(rec.predictions[idx] == y)))
    headline = headline_metric(task.name, task.metrics)
    if headline not in out:  # a spec for a built-in task name without its headline metric
        raise ValueError(f"task {task.name!r} has no metric {headline!r}; it has {sorted(out)}")
    out["probe_headline"] = out[headline]
    out["probe_chance"] = chance_level(headline, y)
    out["probe_lift"] = out[headline] - out["probe_chance"]
    tp, fp, fn = rec.bow_counts[idx].sum(0)
    out["bow_probe_f1"] = float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 0.0
    out["token_probe_acc"] = _nanmean(rec.token_correct[idx])
    out["token_probe_majority"] = _nanmean(rec.token_majority[idx])
    if task.is_regression:
        semantic = out["spearmanr"] if "spearmanr" in out else spearman(rec.predictions[idx], y)
    else:
        semantic = out["accuracy"]
    out["probe_gap"] = probe_gap(semantic, out["token_probe_acc"])
    if rec.align_sq is not None:
        out["alignment"] = _nanmean(rec.align_sq[idx])
    if rec.cosine is not None and task.is_regression:
        out["cosine_spearmanr"] = spearman(rec.cosine[idx], y)
        out["balance"] = semantic_lexical_balance(rec.cosine[idx], y, rec.overlap[idx])
    return out


def probe_record(
    task: TaskSpec,
    train: dict[str, np.ndarray],
    evaluation: dict[str, np.ndarray],
    y_train: np.ndarray,
    y_eval: np.ndarray,
    lexical: LexicalTargets,
    config: ProbeConfig,
    *,
    positive_eval: np.ndarray | None = None,
    overlap_eval: np.ndarray | None = None,
    token_probe_classes: int = 20,
    seed: int = 0,
) -> ExampleRecord:
    """Fit the downstream, token and bag-of-words probes of one pooling on train; outcomes on eval.

    Args:
        train, evaluation: side -> (N, D) embeddings; sides "a" and "b" make siamese pairs, whose downstream
            features are `[u, v, |u - v|, u * v]`. The lexical probes read side "a".
        positive_eval: (N_eval,) bool, the positive pairs for alignment.
        overlap_eval: (N_eval,) word-overlap Jaccard of each eval pair, for the balance.
        token_probe_classes: the token probe keeps texts whose label is among this many most frequent train
            labels (the rest are NaN), so every class has training examples.
    """
    siamese = "b" in train
    x_train = pair_features(train["a"], train["b"]) if siamese else train["a"]
    x_eval = pair_features(evaluation["a"], evaluation["b"]) if siamese else evaluation["a"]
    if task.is_regression:
        predictions = ridge_probe(x_train, y_train, x_eval, config)
    else:
        scoring = CV_SCORERS[task.metrics[0]]
        predictions = logistic_probe(x_train, y_train, x_eval, config, seed=seed, scoring=scoring)

    labels, counts = np.unique(lexical.token_train[lexical.token_train >= 0], return_counts=True)
    classes = labels[np.argsort(-counts, kind="stable")[:token_probe_classes]]  # classes[0]: train majority
    in_train, in_eval = np.isin(lexical.token_train, classes), np.isin(lexical.token_eval, classes)
    token_correct = np.full(len(y_eval), np.nan)
    token_majority = np.full(len(y_eval), np.nan)
    if len(classes) >= 2 and in_eval.any():
        pred = logistic_probe(
            train["a"][in_train], lexical.token_train[in_train], evaluation["a"][in_eval], config, seed
        )
        token_correct[in_eval] = pred == lexical.token_eval[in_eval]
        token_majority[in_eval] = lexical.token_eval[in_eval] == classes[0]

    # Bag-of-words probe: one ridge regression per word-piece on +-1 targets (RidgeClassifier's rule).
    present = ridge_probe(train["a"], 2.0 * lexical.bow_train - 1.0, evaluation["a"], config) > 0
    truth = lexical.bow_eval.astype(bool)
    bow_counts = np.stack(
        [np.sum(present & truth, 1), np.sum(present & ~truth, 1), np.sum(~present & truth, 1)], axis=1
    ).astype(np.float64)

    record = ExampleRecord(task, y_eval, predictions, token_correct, token_majority, bow_counts)
    if siamese:
        u, v = evaluation["a"], evaluation["b"]
        record.cosine, record.overlap = cosine_rows(u, v), overlap_eval
        if positive_eval is not None:
            sq = np.sum((l2_normalize(u) - l2_normalize(v)) ** 2, axis=1)
            record.align_sq = np.where(positive_eval, sq, np.nan)
    return record
