"""Training throughput of jepa-mlm's objectives beside transformers' own `BertForMaskedLM`, in one process.

    python benchmarks/throughput.py                        # CPU: 4 x 256 and 6 x 512, sequence 128, batch 32
    python benchmarks/throughput.py --device cuda          # CUDA: 12 x 768 and 6 x 512, sequences 128 and 512, bf16
    python benchmarks/throughput.py --smoke                # a few seconds, for the tests

Every arm trains through the real `Trainer.train()` loop (forward, backward, gradient clipping, fused AdamW,
scheduler, and for the hybrid arms the EMA update in `on_optimizer_step`), fed by the real
`DataCollatorForJepaMlm` in the Trainer's data loader, on the same random token sequences of full length
(`[CLS] w_1 .. w_{L-2} [SEP]`, the bert-base-uncased id layout, no padding) in the same order, so each arm sees
the same BERT masks. `BertForMaskedLM` gets its batches from that collator too (`input_ids`, `attention_mask`,
`labels` with -100 off the masked positions) and computes its loss as a user gets it, full-vocabulary logits.

Each arm runs its own `Trainer.train()` in a thread of its own, and the arms take turns one optimizer step at a
time in a rotating order (only one computes at any moment), so that a change of load on a shared machine hits
them alike. The first `--warmup` steps of each arm are dropped (data loader start, optimizer state, compilation);
each of the next `--steps` is timed from the hand-over of the turn to `on_step_end` (data loading included).
Reported: the median step time, tokens/s = batch x sequence / median, and peak memory = the arm's parameters,
buffers and optimizer state + the largest rise of memory during one more step (resident set size sampled every
2 ms, with glibc's malloc made to return large blocks, on CPU; `torch.cuda.max_memory_allocated` on CUDA).
On CUDA, model FLOP utilisation is reported with the matmul FLOP count of `flops_per_token` (its docstring states
it) against the peak dense bf16 rate given by `--peak_tflops` (989 TFLOP/s, the H100 SXM datasheet figure, which the
H200 shares), and with `--matmul_n N` also against the rate of one N x N x N matrix product measured on the spot
(`matmul_tflops`: bf16 on CUDA, fp32 on CPU), the ceiling a real workload can reach on that device.
`--compile_backend` picks `torch.compile`'s backend for `--compile` (`eager` traces without generating code: a
quick check of the compiled path on CPU).
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import gc
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import BertConfig, BertForMaskedLM, BertTokenizer, Trainer, TrainerCallback
from transformers.trainer_callback import PrinterCallback

from modeling_jepa_mlm import JepaMlmConfig, JepaMlmForPreTraining
from modeling_jepa_mlm.training.collator import DataCollatorForJepaMlm
from modeling_jepa_mlm.training.trainer import (
    JepaMlmTrainer,
    JepaMlmTrainingArguments,
    estimate_flops_per_token,
)

logger = logging.getLogger(__name__)

ARMS = ("bert", "mlm", "hybrid_shared", "hybrid")
BASELINE = "bert"
# (layers, width) per device; CUDA adds BERT-base.
SIZES = {"cpu": ((4, 256), (6, 512)), "cuda": ((12, 768), (6, 512))}
SEQ_LENS = {"cpu": (128,), "cuda": (128, 512)}
BATCH_SIZES = {"cpu": 32, "cuda": 64}
VOCAB_SIZE = 30522
# bert-base-uncased's special ids.
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = 0, 100, 101, 102, 103
FIRST_WORD_ID = 999  # ids below are [PAD], [unusedN], [UNK], [CLS], [SEP], [MASK] and single characters
H100_BF16_DENSE_TFLOPS = 989.0  # H100 SXM, dense bf16 tensor cores (NVIDIA datasheet)


def make_tokenizer(vocab_size: int = VOCAB_SIZE) -> BertTokenizer:
    """A WordPiece tokenizer with bert-base-uncased's size and special ids, made on the spot (no download)."""
    special = {PAD_ID: "[PAD]", UNK_ID: "[UNK]", CLS_ID: "[CLS]", SEP_ID: "[SEP]", MASK_ID: "[MASK]"}
    vocab = [special.get(i, f"[unused{i}]" if i < FIRST_WORD_ID else f"w{i}") for i in range(vocab_size)]
    return BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})


def make_examples(num: int, seq_len: int, vocab_size: int = VOCAB_SIZE, seed: int = 0) -> list[dict]:
    """`num` packed examples of exactly `seq_len` ids: `[CLS]`, uniform random word ids, `[SEP]`."""
    g = torch.Generator().manual_seed(seed)
    words = torch.randint(FIRST_WORD_ID, vocab_size, (num, seq_len - 2), generator=g)
    ids = torch.cat([torch.full((num, 1), CLS_ID), words, torch.full((num, 1), SEP_ID)], dim=1)
    return [{"input_ids": row} for row in ids.tolist()]


@dataclass
class Size:
    layers: int
    width: int
    seq_len: int

    @property
    def name(self) -> str:
        return f"{self.layers}x{self.width} L={self.seq_len}"


def encoder_fields(size: Size) -> dict[str, int]:
    """The encoder both models share at `size` (BERT field names): heads of 64, FFN 4x."""
    return {
        "vocab_size": VOCAB_SIZE,
        "hidden_size": size.width,
        "num_hidden_layers": size.layers,
        "num_attention_heads": size.width // 64,
        "intermediate_size": 4 * size.width,
        "max_position_embeddings": max(512, size.seq_len),
        "pad_token_id": PAD_ID,
    }


def jepa_config(arm: str, size: Size, **overrides: Any) -> JepaMlmConfig:
    """This project's model at `size`: heads of 64, FFN 4x; the predictor in the paper's proportions to its
    encoder (256 wide and 2 deep for 6 x 512): half the width, a third of the depth (rounded, at least 1)."""
    objective, context = {
        "mlm": ("mlm", "blocks"),
        "hybrid_shared": ("hybrid", "shared"),
        "hybrid": ("hybrid", "blocks"),
    }[arm]
    pred = max(size.width // 2, 64)
    return JepaMlmConfig(
        **encoder_fields(size),
        mask_token_id=MASK_ID,
        objective=objective,
        jepa_context=context,
        predictor_hidden_size=pred,
        predictor_num_hidden_layers=max(1, round(size.layers / 3)),
        predictor_num_attention_heads=pred // 64,
        predictor_intermediate_size=4 * pred,
        **overrides,
    )


def bert_config(size: Size) -> BertConfig:
    return BertConfig(**encoder_fields(size))


def flops_per_token(arm: str, model: torch.nn.Module, seq_len: int) -> float:
    """Matmul FLOPs per trained token of one step as the arm computes it (Kaplan et al. 2020; PaLM, Chowdhery et
    al. 2022, appendix B): `6 N + 12 n_layers s d` for a trained pass, `2 N + 4 n_layers s d` for a forward-only
    pass, `N` the non-embedding matmul parameters, `s` the sequence, `d` the width. `BertForMaskedLM` applies its
    head (`d x d` transform + `d x V` decoder) at every position; this project's arms use
    `modeling_jepa_mlm.training.trainer.estimate_flops_per_token` (head at the 15 % masked positions, target encoder
    forward-only, `blocks` context pass over about 75 % of the tokens, predictor at its size)."""
    config = model.config
    if arm != BASELINE:
        return estimate_flops_per_token(config, seq_len)
    d, layers = config.hidden_size, config.num_hidden_layers
    n_layer = layers * (4 * d * d + 2 * d * config.intermediate_size)
    head = d * d + d * config.vocab_size
    return 6 * (n_layer + head) + 12 * layers * seq_len * d


def matmul_tflops(device: torch.device, n: int, repeats: int = 10, warmup: int = 3) -> float:
    """Achieved TFLOP/s of an `n x n @ n x n` product (`2 n^3` FLOPs) on random data: bf16 on CUDA, timed with
    CUDA events after `warmup` products; fp32 on CPU, timed with the wall clock. The mean over `repeats`."""
    cuda = device.type == "cuda"
    g = torch.Generator(device=device).manual_seed(0)
    dtype = torch.bfloat16 if cuda else torch.float32
    a, b = (torch.randn(n, n, generator=g, device=device, dtype=dtype) for _ in range(2))
    for _ in range(warmup):
        torch.mm(a, b)
    if cuda:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(repeats):
            torch.mm(a, b)
        end.record()
        torch.cuda.synchronize(device)
        seconds = start.elapsed_time(end) / 1000
    else:
        t0 = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        seconds = time.perf_counter() - t0
    return 2 * n**3 * repeats / seconds / 1e12


def parameter_bytes(model: torch.nn.Module) -> int:
    seen: dict[int, int] = {}
    for t in [*model.parameters(), *model.buffers()]:
        seen[t.data_ptr()] = t.numel() * t.element_size()
    return sum(seen.values())


class _RssSampler:
    """Peak resident set size of this process (bytes), sampled every `interval` seconds in a thread."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def __enter__(self) -> _RssSampler:
        self.start = self.peak = self.rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.rss())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


class _Baton(TrainerCallback):
    """Runs one arm's `Trainer.train()` in its own thread, one optimizer step per turn.

    The thread waits for its turn before the first step and after every `on_step_end`; the main thread hands
    turns out arm by arm, so exactly one arm computes at any time and the arms alternate step by step, each in
    its real training loop. A turn's wall time runs from the hand-over to `on_step_end` (data loading included;
    on CUDA after a synchronize).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.times: list[float] = []
        self._turn = threading.Semaphore(0)
        self._done = threading.Semaphore(0)
        self._start = 0.0
        self.error: BaseException | None = None
        self.finished = False

    def _wait_turn(self) -> None:
        self._turn.acquire()
        self._start = time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs):
        self._wait_turn()

    def on_step_end(self, args, state, control, **kwargs):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.times.append(time.perf_counter() - self._start)
        self._done.release()
        self._wait_turn()

    def run(self, trainer: Trainer) -> threading.Thread:
        def target() -> None:
            try:
                trainer.train()
            except BaseException as err:  # handed to the main thread by `step`
                self.error = err
            finally:
                self.finished = True
                self._done.release()

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        return thread

    def step(self) -> None:
        """Give the arm one turn (one optimizer step, or the end of its loop) and wait for it."""
        self._turn.release()
        self._done.acquire()
        if self.error is not None:
            raise RuntimeError("an arm's training loop failed") from self.error


@dataclass
class Arm:
    """One model trained by its Trainer in its own thread (see `_Baton`)."""

    name: str
    trainer: Trainer
    baton: _Baton
    flops_per_token: float
    param_bytes: int
    peak_bytes: int = 0


def build_arm(
    name: str, size: Size, args: argparse.Namespace, device: torch.device, tokenizer, output_dir: str
) -> Arm:
    """The arm's model, collator and Trainer; the BERT arm's batches keep only what `BertForMaskedLM` takes."""
    torch.manual_seed(args.seed)
    if name == BASELINE:
        model = BertForMaskedLM._from_config(bert_config(size), attn_implementation=args.attn_implementation)
        collator = DataCollatorForJepaMlm(tokenizer, jepa_context="none", seed=args.seed)

        def collate(examples):
            batch = collator(examples)
            return {k: batch[k] for k in ("input_ids", "attention_mask", "labels")}

        trainer_cls = Trainer
    else:
        config = jepa_config(name, size)
        config._attn_implementation = args.attn_implementation
        model = JepaMlmForPreTraining(config)
        context = config.jepa_context if config.has_jepa else "none"
        collate = DataCollatorForJepaMlm(tokenizer, jepa_context=context, seed=args.seed)
        trainer_cls = JepaMlmTrainer
    cuda = device.type == "cuda"
    total_steps = total_steps_per_arm(args)
    training_args = JepaMlmTrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=args.batch_size,
        max_steps=total_steps,
        learning_rate=1e-4,
        weight_decay=0.01,
        warmup_steps=0,
        logging_steps=10_000,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=args.seed,
        use_cpu=not cuda,
        bf16=cuda,
        tf32=True if cuda else None,
        dataloader_num_workers=args.num_workers,
        dataloader_pin_memory=cuda,
        dataloader_persistent_workers=args.num_workers > 0,
        torch_compile=args.compile,
        torch_compile_backend=args.compile_backend if args.compile else None,
    )
    examples = make_examples(args.batch_size * total_steps, size.seq_len, seed=args.seed)
    baton = _Baton(device)
    trainer = trainer_cls(
        model=model, args=training_args, train_dataset=examples, data_collator=collate, callbacks=[baton]
    )
    trainer.remove_callback(PrinterCallback)  # no per-run metrics dict on stdout
    return Arm(
        name=name,
        trainer=trainer,
        baton=baton,
        flops_per_token=flops_per_token(name, model, size.seq_len),
        param_bytes=parameter_bytes(model),
    )


def total_steps_per_arm(args: argparse.Namespace) -> int:
    """Warm-up, timed steps, and one last step that measures memory."""
    return args.warmup + args.steps + 1


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


def _set_malloc_thresholds(mmap_bytes: int) -> None:
    """glibc: blocks above `mmap_bytes` are mmap'ed and returned to the system when freed (128 KiB while memory
    is measured, so the RSS follows live tensors; 32 MiB, the dynamic default's ceiling, while timing)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, mmap_bytes)
        libc.mallopt(M_TRIM_THRESHOLD, 2 * mmap_bytes)
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        logger.warning("not glibc: CPU peak memory includes blocks cached by malloc")


def optimizer_state_bytes(trainer: Trainer) -> int:
    state = getattr(trainer.optimizer, "optimizer", trainer.optimizer).state
    return sum(t.numel() * t.element_size() for s in state.values() for t in s.values() if torch.is_tensor(t))


def measured_peak(arm: Arm, device: torch.device) -> int:
    """One more step of the arm: its parameters and optimizer state + the largest rise of memory in the step."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        arm.baton.step()
        rise = torch.cuda.max_memory_allocated(device) - before
    else:
        with _RssSampler() as rss:
            arm.baton.step()
        rise = rss.peak - rss.start
    return arm.param_bytes + optimizer_state_bytes(arm.trainer) + rise


def measure(size: Size, args: argparse.Namespace, device: torch.device, tokenizer) -> list[dict[str, Any]]:
    """Build every arm at `size`, run them step by step in rotating order, return one row per arm."""
    with tempfile.TemporaryDirectory() as output_dir:
        arms = [build_arm(n, size, args, device, tokenizer, output_dir) for n in args.arms]
        threads = [arm.baton.run(arm.trainer) for arm in arms]
        for i in range(args.warmup + args.steps):
            for arm in arms[i % len(arms) :] + arms[: i % len(arms)]:
                arm.baton.step()
        if device.type == "cpu":
            _set_malloc_thresholds(128 * 1024)
        for arm in arms:
            arm.peak_bytes = measured_peak(arm, device)
            arm.baton.step()  # lets train() return
        for thread in threads:
            thread.join()
        if device.type == "cpu":
            _set_malloc_thresholds(32 * 2**20)
    tokens = args.batch_size * size.seq_len
    rows = []
    for arm in arms:
        times = arm.baton.times[args.warmup : args.warmup + args.steps]
        logger.info("%s %s step times: %s", size.name, arm.name, [round(t, 3) for t in times])
        step = statistics.median(times)
        row = {
            "size": size.name,
            "arm": arm.name,
            "batch_size": args.batch_size,
            "compile": args.compile_backend if args.compile else None,
            "step_s": step,
            "step_s_iqr": _iqr(times),
            "step_s_min": min(times),
            "tokens_per_s": tokens / step,
            "peak_mib": arm.peak_bytes / 2**20,
            "steps_timed": len(times),
            "flops_per_token": arm.flops_per_token,
            "step_times": times,
        }
        achieved = arm.flops_per_token * tokens / step / 1e12  # TFLOP/s
        if args.peak_tflops:
            row["mfu"] = achieved / args.peak_tflops
        if args.matmul_tflops:
            row["mfu_matmul"] = achieved / args.matmul_tflops
        rows.append(row)
    return add_ratios(rows)


def add_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row's tokens/s over the BERT row's (`x_bert_tokens_per_s`) and step time over the `mlm` row's
    (`x_mlm_step_time`), for rows of one size and mode; a ratio is left out when its reference row is."""
    by_arm = {row["arm"]: row for row in rows}
    for row in rows:
        if BASELINE in by_arm:
            row["x_bert_tokens_per_s"] = row["tokens_per_s"] / by_arm[BASELINE]["tokens_per_s"]
        if "mlm" in by_arm:
            row["x_mlm_step_time"] = row["step_s"] / by_arm["mlm"]["step_s"]
    return rows


def _iqr(values: Sequence[float]) -> float:
    if len(values) < 4:
        return 0.0
    q = statistics.quantiles(values, n=4)
    return q[2] - q[0]


def environment(device: torch.device) -> dict[str, Any]:
    """Machine, load and versions, for RESULTS.md."""
    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    else:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
            env["cpu"] = next(
                line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")
            )
        except (OSError, StopIteration):
            env["cpu"] = platform.processor()
    return env


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the rows; MFU columns when the rows have them (`mfu`: against `--peak_tflops`,
    `mfu_matmul`: against the measured matrix-product rate)."""
    head = "| size | arm | step (s) | IQR (s) | tokens/s | x BERT tokens/s | x mlm step time | peak MiB |"
    rule = "|---|---|---|---|---|---|---|---|"
    mfu_keys = [k for k in ("mfu", "mfu_matmul") if any(k in row for row in rows)]
    for key in mfu_keys:
        head += " MFU (peak) |" if key == "mfu" else " MFU (matmul) |"
        rule += "---|"
    lines = [head, rule]
    for row in rows:
        cells = [
            row["size"],
            row["arm"],
            f"{row['step_s']:.3f}",
            f"{row['step_s_iqr']:.3f}",
            f"{row['tokens_per_s']:,.0f}",
            f"{row.get('x_bert_tokens_per_s', float('nan')):.2f}",
            f"{row.get('x_mlm_step_time', float('nan')):.2f}",
            f"{row['peak_mib']:,.0f}",
        ]
        cells += [f"{row[k]:.1%}" if k in row else "" for k in mfu_keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda")
    )
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument(
        "--sizes", nargs="+", default=None, help="LAYERSxWIDTH, e.g. 4x256 6x512 (default: per device)"
    )
    parser.add_argument("--seq_lens", nargs="+", type=int, default=None, help="default: per device")
    parser.add_argument("--batch_size", type=int, default=None, help="default: 32 on CPU, 64 on CUDA")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per arm, interleaved")
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed first steps per arm (1; 3 with --compile)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--num_workers", type=int, default=None, help="data loader workers (0 CPU, 4 CUDA)")
    parser.add_argument("--attn_implementation", default="sdpa", choices=("sdpa", "eager"))
    parser.add_argument("--compile", action="store_true", help="TrainingArguments(torch_compile=True)")
    parser.add_argument(
        "--compile_backend",
        default="inductor",
        help="torch.compile backend with --compile (eager: trace only)",
    )
    parser.add_argument(
        "--peak_tflops",
        type=float,
        default=None,
        help=f"peak rate for MFU (default: {H100_BF16_DENSE_TFLOPS:g}, dense bf16 of an H100/H200 SXM, on CUDA; none on CPU)",
    )
    parser.add_argument(
        "--matmul_n", type=int, default=None, help="also MFU against a measured N x N x N matrix product"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, default=None, help="write the rows and environment here")
    parser.add_argument("--smoke", action="store_true", help="tiny size, 1 timed step: seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.seq_lens, args.batch_size = ["1x64"], [32], args.batch_size or 4
        args.steps, args.warmup = 1, 1
    if args.warmup is None:
        args.warmup = 3 if args.compile else 1
    args.sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes or []] or list(
        SIZES[args.device]
    )
    args.seq_lens = args.seq_lens or list(SEQ_LENS[args.device])
    args.batch_size = args.batch_size or BATCH_SIZES[args.device]
    if args.num_workers is None:
        args.num_workers = 4 if args.device == "cuda" else 0
    if args.peak_tflops is None and args.device == "cuda":
        args.peak_tflops = H100_BF16_DENSE_TFLOPS
    args.matmul_tflops = None  # measured in `main` when --matmul_n is given
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure every size and sequence length; print the table; return rows and environment."""
    args = parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    for name in ("transformers", "accelerate"):
        logging.getLogger(name).setLevel(logging.ERROR)
    transformers.utils.logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda needs a CUDA GPU; none is visible")
    tokenizer = make_tokenizer()
    env = environment(device)
    env["peak_tflops"] = args.peak_tflops
    if args.matmul_n:
        args.matmul_tflops = env["matmul_tflops"] = matmul_tflops(device, args.matmul_n)
        env["matmul_n"] = args.matmul_n
        logger.info("%d^3 matrix product: %.1f TFLOP/s", args.matmul_n, args.matmul_tflops)
    rows = []
    for layers, width in args.sizes:
        for seq_len in args.seq_lens:
            rows += measure(Size(layers, width, seq_len), args, device, tokenizer)
    env["load_average_end"] = os.getloadavg()
    table = format_table(rows)
    print(json.dumps(env, indent=1))
    print(table)
    result = {"environment": env, "rows": rows, "table": table}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
