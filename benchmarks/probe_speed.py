"""Probe speed: the probe's encoding beside sentence-transformers' `encode`, and the wall time of a full analysis.

    python benchmarks/probe_speed.py                              # encoding, paper-size encoder, SST-2 sentences
    python benchmarks/probe_speed.py --analysis quickstart_out    # + run_glue_probe on its two models

Encoding: one encoder folder (by default a freshly initialised jepa-mlm encoder of the paper's size, 6 x 512,
saved with the bert-base-uncased tokenizer; the weights do not change the speed) is read by both
`modeling_jepa_mlm.analysis.probing.encode_texts` (mean pooling, and all four default poolings from the same pass) and
`sentence_transformers.SentenceTransformer(folder).encode` (its default module stack for a plain transformers
folder: the transformer and mean pooling), on the same sentences, batch size and maximum length. The two mean
embeddings are checked to agree. Each is timed `--repeats` times, interleaved; the median gives sentences/s.

Analysis: `modeling_jepa_mlm.analysis.probe.main` on the two models of a quickstart folder (`hybrid`, `mlm`), all five tasks and
the four default poolings, with a fresh embedding cache, timed end to end; `--glue_dir` picks the tasks' data
(default: the quickstart's own synthetic GLUE folders).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers

from modeling_jepa_mlm import JepaMlmConfig, JepaMlmModel
from modeling_jepa_mlm.analysis import probe
from modeling_jepa_mlm.analysis.probing import encode_texts, load_encoder

ROOT = Path(__file__).resolve().parents[1]

logger = logging.getLogger(__name__)

DEFAULT_TOKENIZER = ROOT.parent / "shared" / "data" / "tokenizers" / "bert-base-uncased"
DEFAULT_GLUE = ROOT.parent / "shared" / "data" / "glue"
FOUR_POOLINGS = ("mean", "max", "cls", "first_last_mean")


def load_sentences(glue_dir: Path, num: int) -> list[str]:
    """The first `num` SST-2 sentences (validation, then train) from a local GLUE folder, or synthetic reviews."""
    if (glue_dir / "sst2").is_dir():
        import datasets

        data = datasets.load_dataset(str(glue_dir), "sst2")
        sentences = list(data["validation"]["sentence"]) + list(data["train"]["sentence"])
        return sentences[:num]
    import random

    from modeling_jepa_mlm.quickstart.synthetic import review_sentence

    rng = random.Random(0)
    return [review_sentence(rng, i % 2 == 0) for i in range(num)]


def make_encoder_folder(folder: Path, tokenizer_path: Path, layers: int, width: int) -> Path:
    """A freshly initialised `JepaMlmModel` (seed 0) and the tokenizer, saved like an export."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_path))
    torch.manual_seed(0)
    config = JepaMlmConfig(
        vocab_size=len(tokenizer),
        hidden_size=width,
        num_hidden_layers=layers,
        num_attention_heads=width // 64,
        intermediate_size=4 * width,
        pad_token_id=tokenizer.pad_token_id,
        mask_token_id=tokenizer.mask_token_id,
    )
    JepaMlmModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def time_encoding(folder: Path, sentences: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Median wall time of each encoder over interleaved repeats; agreement of the mean embeddings."""
    from sentence_transformers import SentenceTransformer

    encoder = load_encoder(str(folder), device=args.device)
    st = SentenceTransformer(str(folder), device=args.device, trust_remote_code=True)
    st.max_seq_length = args.max_length

    arms = {
        "probe encode_texts (mean)": lambda: encode_texts(
            encoder,
            sentences,
            ["mean"],
            batch_size=args.batch_size,
            max_length=args.max_length,
            progress=False,
        )["mean"],
        "probe encode_texts (4 poolings, one pass)": lambda: encode_texts(
            encoder,
            sentences,
            list(FOUR_POOLINGS),
            batch_size=args.batch_size,
            max_length=args.max_length,
            progress=False,
        )["mean"],
        "sentence-transformers encode (mean)": lambda: st.encode(
            sentences, batch_size=args.batch_size, convert_to_numpy=True, show_progress_bar=False
        ),
    }
    outputs = {name: fn() for name, fn in arms.items()}  # warm-up, and the agreement check
    reference = outputs["sentence-transformers encode (mean)"]
    agreement = {
        name: float(np.abs(out - reference).max()) for name, out in outputs.items() if out is not reference
    }
    times: dict[str, list[float]] = {name: [] for name in arms}
    for r in range(args.repeats):
        names = list(arms)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            arms[name]()
            times[name].append(time.perf_counter() - start)
    rows = []
    for name, values in times.items():
        median = statistics.median(values)
        rows.append(
            {"arm": name, "seconds": median, "sentences_per_s": len(sentences) / median, "runs": values}
        )
    base = next(r for r in rows if r["arm"].startswith("sentence-transformers"))
    for row in rows:
        row["x_sentence_transformers"] = row["sentences_per_s"] / base["sentences_per_s"]
    return {"rows": rows, "max_abs_diff_vs_sentence_transformers": agreement}


def time_analysis(
    quickstart: Path, glue_dir: Path | None, output_dir: Path, args: argparse.Namespace
) -> float:
    """Wall seconds of `modeling_jepa_mlm.analysis.probe.main` on the quickstart's two models, every task, four poolings."""
    glue = glue_dir or quickstart / "data" / "glue"
    argv = [
        "--model_name_or_path",
        str(quickstart / "hybrid"),
        str(quickstart / "mlm"),
        "--model_names",
        "hybrid",
        "mlm",
        "--glue_dir",
        str(glue),
        "--output_dir",
        str(output_dir),
        "--cache_dir",
        str(output_dir / "cache"),
        "--device",
        args.device,
        *args.analysis_args,
    ]
    start = time.perf_counter()
    probe.main(argv)
    return time.perf_counter() - start


def environment() -> dict[str, Any]:
    import sentence_transformers

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=None, help="encoder folder (default: a fresh 6 x 512 one)")
    p.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER, help="for the fresh encoder")
    p.add_argument("--size", default="6x512", help="LAYERSxWIDTH of the fresh encoder")
    p.add_argument("--glue_dir", type=Path, default=DEFAULT_GLUE, help="SST-2 sentences come from here")
    p.add_argument("--num_sentences", type=int, default=2000)
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--max_length", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--analysis", type=Path, default=None, help="a quickstart output folder to analyse")
    p.add_argument("--analysis_glue_dir", type=Path, default=None, help="default: the quickstart's data/glue")
    p.add_argument("--analysis_args", nargs=argparse.REMAINDER, default=[], help="more run_glue_probe flags")
    p.add_argument("--skip_encoding", action="store_true")
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity_error()
    result: dict[str, Any] = {"environment": environment()}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_encoding:
            layers, width = (int(v) for v in args.size.lower().split("x"))
            folder = args.model or make_encoder_folder(Path(tmp) / "encoder", args.tokenizer, layers, width)
            sentences = load_sentences(args.glue_dir, args.num_sentences)
            result["encoding"] = time_encoding(folder, sentences, args)
            result["encoding"].update(
                model=str(args.model or f"fresh JepaMlmModel {args.size}"),
                num_sentences=len(sentences),
                mean_tokens=float(
                    np.mean([len(ids) for ids in load_encoder(str(folder)).tokenizer(sentences)["input_ids"]])
                ),
            )
            for row in result["encoding"]["rows"]:
                print(
                    f"| {row['arm']} | {row['seconds']:.2f} | {row['sentences_per_s']:,.0f} | "
                    f"{row['x_sentence_transformers']:.2f} |"
                )
            print(
                "max |diff| of the mean embeddings:",
                result["encoding"]["max_abs_diff_vs_sentence_transformers"],
            )
        if args.analysis is not None:
            seconds = time_analysis(args.analysis, args.analysis_glue_dir, Path(tmp) / "probe", args)
            result["analysis_seconds"] = seconds
            print(f"full analysis of {args.analysis}/hybrid and /mlm: {seconds:.1f} s")
    result["environment"]["load_average_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
