"""Publish an export folder on the Hugging Face Hub: exactly its config, weights, tokenizer, code files and card.

    python -m modeling_jepa_mlm.publishing.hub push out/hybrid --hub_model_id org/jepa-mlm-hybrid [--private]
        [--revision r] [--probe_results probe/results.json] [--dry_run]
    python -m modeling_jepa_mlm.publishing.hub card out/hybrid [--probe_results probe/results.json]

`push` renders the model card (with the probe's results when given) and uploads it with the export in one commit;
the card is written into the folder only once the upload succeeded. `--dry_run` lists what would be uploaded and
touches nothing. Without a network, in offline mode (`HF_HUB_OFFLINE=1`) or without a token, `HubUploadError` says
so and names the local folder, which is left exactly as it was (its README.md included).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import huggingface_hub
from huggingface_hub import CommitOperationAdd, constants
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    LocalTokenNotFoundError,
    OfflineModeIsEnabled,
)
from huggingface_hub.utils import validate_repo_id
from transformers.dynamic_module_utils import get_relative_import_files

from .cards import CARD_NAME, render_card, validate_card, write_model_card

logger = logging.getLogger(__name__)

# What a published checkpoint holds, by kind, as top-level file name patterns of the export folder. The code files
# are not a pattern: exactly the modules `config.json`'s `auto_map` names and those they import relatively
# (`code_files`). TensorBoard event files under `runs/` (the Trainer's `report_to tensorboard`) feed the Hub's
# metrics tab.
UPLOAD_KINDS: dict[str, tuple[str, ...]] = {
    "config": ("config.json",),
    "weights": ("model.safetensors", "model-*-of-*.safetensors", "model.safetensors.index.json"),
    "tokenizer": (
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
        "added_tokens.json",
    ),
    "code": (),
    "card": (CARD_NAME,),
    "logs": (),
}
TENSORBOARD_LOGS = "runs"
TENSORBOARD_EVENTS = "events.out.tfevents.*"
REQUIRED_KINDS = ("config", "weights", "tokenizer", "code")


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's own errors (huggingface_hub uses httpx, or httpx2 in newer releases)."""
    errors: list[type[BaseException]] = []
    for module in ("httpx2", "httpx", "requests"):
        try:
            mod = __import__(module)
        except ImportError:
            continue
        base = getattr(mod, "HTTPError", None) or getattr(mod, "RequestException", None)
        if isinstance(base, type):
            errors.append(base)
    return tuple(errors)


# Every failure of reaching or writing to the Hub: offline mode, no token, HTTP errors, no connection.
HUB_ERRORS: tuple[type[BaseException], ...] = (
    OfflineModeIsEnabled,
    LocalTokenNotFoundError,
    HfHubHTTPError,
    OSError,
    *_transport_errors(),
)


class HubUploadError(RuntimeError):
    """The upload could not happen; the message names the local export folder, which is intact."""


@dataclass
class UploadPlan:
    """What a push sends: `files[kind]` lists file names (relative to `export_dir`) by kind of `UPLOAD_KINDS`."""

    export_dir: Path
    repo_id: str
    files: dict[str, list[str]]
    private: bool = False
    revision: str | None = None
    card_regenerated: bool = True
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def all_files(self) -> list[str]:
        return [name for kind in UPLOAD_KINDS for name in self.files.get(kind, [])]

    def describe(self) -> str:
        """A listing, one file a line, grouped by kind, with sizes."""
        target = (
            f"{self.repo_id} ({'private' if self.private else 'public'}, revision {self.revision or 'main'})"
        )
        lines = [f"would upload {len(self.all_files)} files from {self.export_dir} to {target}:"]
        for kind in UPLOAD_KINDS:
            for name in self.files.get(kind, []):
                note = " (regenerated)" if kind == "card" and self.card_regenerated else ""
                lines.append(f"  {kind:<9} {name}  {self.sizes.get(name, 0):,} bytes{note}")
        return "\n".join(lines)


def _kind(name: str) -> str | None:
    return next(
        (kind for kind, patterns in UPLOAD_KINDS.items() if any(fnmatch.fnmatch(name, p) for p in patterns)),
        None,
    )


def code_files(folder: Path) -> list[str]:
    """The code files `trust_remote_code` needs: the modules `config.json`'s `auto_map` names and, recursively, the
    modules they import relatively (transformers' own `get_relative_import_files`).

    Raises:
        FileNotFoundError: a module `auto_map` names, or one it imports, is not in the folder.
    """
    auto_map = json.loads((folder / "config.json").read_text()).get("auto_map") or {}
    refs = [r for v in auto_map.values() for r in (v if isinstance(v, list) else [v]) if isinstance(r, str)]
    # "<repo>--<module>.<Class>" points at another repository's code, which does not travel with this folder.
    named = sorted({f"{ref.split('.')[0]}.py" for ref in refs if "--" not in ref})
    absent = [n for n in named if not (folder / n).is_file()]
    if absent:
        raise FileNotFoundError(
            f"{str(folder)!r}: config.json's auto_map needs {absent}, which are not in the folder; re-export with "
            "save_pretrained from the modeling_jepa_mlm package"
        )
    needed = set(named)
    for name in named:
        try:  # reads every module it reaches, so a module imported but absent fails here
            imported = get_relative_import_files(str(folder / name))
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"{str(folder)!r}: {name} imports {[Path(err.filename or '?').name]} (relatively, directly or "
                "through another module), which is not in the folder; re-export with save_pretrained from the "
                "modeling_jepa_mlm package"
            ) from err
        needed.update(Path(f).name for f in imported)
    return sorted(needed)


def tensorboard_logs(folder: Path) -> list[str]:
    """TensorBoard event files under `runs/` (relative paths), which the Hub's metrics tab reads."""
    logs = folder / TENSORBOARD_LOGS
    if not logs.is_dir():
        return []
    return sorted(str(p.relative_to(folder)) for p in logs.rglob(TENSORBOARD_EVENTS) if p.is_file())


def upload_files(export_dir: str | os.PathLike, *, with_card: bool = True) -> dict[str, list[str]]:
    """The files of `export_dir` a push sends, by kind: top-level config, weights, tokenizer and card, the code
    files `auto_map` needs and TensorBoard event files (never run records, checkpoints or other files).

    Raises:
        FileNotFoundError: the folder is missing, or lacks a required kind (config, weights, tokenizer, code) or
            a code file that `config.json`'s `auto_map` names.
    """
    folder = Path(export_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"export folder {str(folder)!r} does not exist")
    files: dict[str, list[str]] = {kind: [] for kind in UPLOAD_KINDS}
    for path in sorted(folder.iterdir()):
        kind = _kind(path.name) if path.is_file() else None
        if kind is not None and (with_card or kind != "card"):
            files[kind].append(path.name)
    if files["config"]:
        files["code"] = code_files(folder)
    files["logs"] = tensorboard_logs(folder)
    missing = [kind for kind in REQUIRED_KINDS if not files[kind]]
    if missing:
        raise FileNotFoundError(
            f"{str(folder)!r} is not a complete export: no {', '.join(missing)} files (a push needs "
            f"{', '.join(REQUIRED_KINDS)}: {', '.join(p for k in REQUIRED_KINDS for p in UPLOAD_KINDS[k])}, and "
            "the code files config.json's auto_map names)"
        )
    return files


def is_offline() -> bool:
    """True under `HF_HUB_OFFLINE=1` (read now, not at import time as `huggingface_hub.constants` does)."""
    value = os.environ.get("HF_HUB_OFFLINE", "")
    return value.upper() in ("1", "ON", "YES", "TRUE") or bool(constants.HF_HUB_OFFLINE)


def check_repo_id(hub_model_id: str | None) -> str:
    """A valid repository id, else `ValueError` naming it and the accepted form."""
    if not hub_model_id:
        raise ValueError("no hub_model_id: give --hub_model_id <namespace>/<name> to push to the Hub")
    try:
        validate_repo_id(hub_model_id)
    except HFValidationError as err:
        raise ValueError(
            f"hub_model_id={hub_model_id!r} is not a valid repository id; accepted: '<namespace>/<name>' (or "
            f"'<name>' under your own namespace) of letters, digits, '-', '_', '.' ({err})"
        ) from err
    return hub_model_id


def check_hub_access(token: str | None = None, export_dir: str | os.PathLike | None = None) -> str:
    """The token to push with; fails at once, without any network call, when offline or without a token.

    Raises:
        HubUploadError: `HF_HUB_OFFLINE` is set, or no token is given, in `HF_TOKEN` or from `hf auth login`.
    """
    where = f" The export in {Path(export_dir).resolve()} is intact." if export_dir is not None else ""
    if is_offline():
        raise HubUploadError(
            "cannot push to the Hub: offline mode is enabled (HF_HUB_OFFLINE=1). Unset it on a machine with network "
            f"access.{where}"
        )
    token = token or huggingface_hub.get_token()
    if not token:
        raise HubUploadError(
            "cannot push to the Hub: no Hugging Face token. Run `hf auth login`, set HF_TOKEN, or pass "
            f"--hub_token.{where}"
        )
    return token


def plan_upload(
    export_dir: str | os.PathLike,
    hub_model_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    regenerate_card: bool = True,
) -> UploadPlan:
    """What `push_to_hub` would send, without writing or sending anything."""
    repo_id = check_repo_id(hub_model_id)
    files = upload_files(export_dir, with_card=not regenerate_card)
    if regenerate_card:
        files["card"] = [CARD_NAME]
    folder = Path(export_dir)
    sizes = {
        n: (folder / n).stat().st_size for kind in files.values() for n in kind if (folder / n).is_file()
    }
    return UploadPlan(folder, repo_id, files, private, revision, regenerate_card, sizes)


def push_to_hub(
    export_dir: str | os.PathLike,
    hub_model_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    probe_results: str | os.PathLike | Mapping | None = None,
    token: str | None = None,
    dry_run: bool = False,
    regenerate_card: bool = True,
    commit_message: str | None = None,
    card_kwargs: Mapping[str, Any] | None = None,
) -> UploadPlan:
    """Regenerate the card of `export_dir` (with `probe_results` when given) and upload the export.

    Args:
        hub_model_id: `namespace/name` of the model repository (created if absent, `private` then applies).
        revision: a branch to push to (created from main if absent); None pushes to main.
        probe_results: `run_glue_probe.py`'s results.json (or its folder) for the card's tables and model-index.
        dry_run: only compute and log the plan; nothing is written locally or sent.
        regenerate_card: False uploads the folder's README.md as it is (when there is one).
        card_kwargs: more arguments of `cards.render_card` (`model_name`, `notes`, `license`, `extra_tags`).

    Returns:
        The `UploadPlan` (what was, or would be, uploaded).

    Raises:
        ValueError: an invalid `hub_model_id`, or a card the Hub's validator rejects.
        FileNotFoundError: an incomplete export folder.
        HubUploadError: offline, no token, no connection or an HTTP error; the local folder is intact.
    """
    plan = plan_upload(
        export_dir, hub_model_id, private=private, revision=revision, regenerate_card=regenerate_card
    )
    card_kwargs = dict(card_kwargs or {})
    if dry_run:
        if regenerate_card:  # render and validate it anyway, so a dry run fails where the real push would
            text = render_card(export_dir, probe_results, hub_model_id=plan.repo_id, **card_kwargs)
            validate_card(text)
            plan.sizes[CARD_NAME] = len(text.encode())
        logger.info("dry run: %d files would be uploaded to %s", len(plan.all_files), plan.repo_id)
        return plan
    token = check_hub_access(token, export_dir)
    folder = Path(export_dir).resolve()
    card_text = None
    if regenerate_card:  # rendered in memory: the folder's README.md changes only once the upload succeeded
        card_text = render_card(export_dir, probe_results, hub_model_id=plan.repo_id, **card_kwargs)
        validate_card(card_text)
        plan.sizes[CARD_NAME] = len(card_text.encode())
        _warn_if_results_dropped(folder / CARD_NAME, card_text)
    elif plan.files.get("card"):
        card_text = (folder / CARD_NAME).read_text()
    retry = f"python -m modeling_jepa_mlm.publishing.hub push {folder} --hub_model_id {plan.repo_id}" + (
        f" --revision {revision}" if revision else ""
    )
    try:
        api = huggingface_hub.HfApi(token=token)
        url = api.create_repo(plan.repo_id, private=private or None, exist_ok=True, repo_type="model")
        if revision:
            api.create_branch(plan.repo_id, branch=revision, exist_ok=True, repo_type="model")
        if card_text is not None:
            validate_card(card_text).validate(repo_type="model")
        operations = [
            CommitOperationAdd(
                path_in_repo=name,
                path_or_fileobj=card_text.encode()
                if name == CARD_NAME and regenerate_card
                else str(folder / name),
            )
            for name in plan.all_files
        ]
        commit = api.create_commit(
            repo_id=plan.repo_id,
            operations=operations,
            revision=revision,
            commit_message=commit_message or f"Upload jepa-mlm export ({len(plan.all_files)} files)",
            repo_type="model",
        )
    except HUB_ERRORS as err:
        raise HubUploadError(
            f"could not push {folder} to {plan.repo_id}: {type(err).__name__}: {err}. Nothing was lost: the export "
            f"in {folder} is intact (its {CARD_NAME} unchanged); retry with `{retry}`."
        ) from err
    if regenerate_card:
        (folder / CARD_NAME).write_text(card_text)
        logger.info("wrote the pushed model card to %s", folder / CARD_NAME)
    logger.info("pushed %d files to %s (%s)", len(plan.all_files), url, getattr(commit, "commit_url", commit))
    return plan


def _warn_if_results_dropped(card_path: Path, new_text: str) -> None:
    """Warn when the card on disk has results (a model-index) that the regenerated one lacks."""
    if not card_path.is_file():
        return
    old = huggingface_hub.ModelCard(card_path.read_text()).data
    if old.eval_results and not huggingface_hub.ModelCard(new_text).data.eval_results:
        logger.warning(
            "%s has probe results (model-index) that the regenerated card lacks; pass --probe_results to keep "
            "them, or --keep_card to upload the card as it is",
            card_path,
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """`push` and `card` sub-commands; see `--help`."""
    parser = argparse.ArgumentParser(
        prog="python -m modeling_jepa_mlm.publishing.hub",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    push = sub.add_parser(
        "push", help="upload an export folder with a regenerated card (written once pushed)"
    )
    card = sub.add_parser("card", help="regenerate the model card (README.md) of an export folder")
    for p in (push, card):
        p.add_argument("export_dir", help="folder written by run_pretraining.py")
        p.add_argument("--probe_results", default=None, help="run_glue_probe.py's results.json or its folder")
        p.add_argument("--model_name", default=None, help="this model's name in the probe results")
        p.add_argument("--notes", default=None, help="a paragraph added to the card's description")
        p.add_argument("--license", default="apache-2.0")
    push.add_argument("--hub_model_id", required=True, help="namespace/name of the model repository")
    card.add_argument("--hub_model_id", default=None, help="the repository the card is for (usage snippet)")
    push.add_argument("--private", action="store_true", help="create the repository private")
    push.add_argument("--revision", default=None, help="branch to push to (created if absent)")
    push.add_argument("--hub_token", default=None, help="default: HF_TOKEN or the `hf auth login` token")
    push.add_argument("--commit_message", default=None)
    push.add_argument("--dry_run", action="store_true", help="list what would be uploaded; send nothing")
    push.add_argument(
        "--keep_card",
        action="store_true",
        help="upload the folder's README.md as it is, do not regenerate it",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> UploadPlan | Path:
    """Run a sub-command; errors exit with status 1 and a one-paragraph message."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    card_kwargs = {"model_name": args.model_name, "notes": args.notes, "license": args.license}
    try:
        if args.command == "card":
            return write_model_card(
                args.export_dir, args.probe_results, hub_model_id=args.hub_model_id, **card_kwargs
            )
        plan = push_to_hub(
            args.export_dir,
            args.hub_model_id,
            private=args.private,
            revision=args.revision,
            probe_results=args.probe_results,
            token=args.hub_token,
            dry_run=args.dry_run,
            regenerate_card=not args.keep_card,
            commit_message=args.commit_message,
            card_kwargs=card_kwargs,
        )
    except (HubUploadError, ValueError, FileNotFoundError) as err:
        raise SystemExit(f"error: {err}") from err
    if args.dry_run:
        sys.stdout.write(plan.describe() + "\n")
    return plan


__all__ = [
    "HUB_ERRORS",
    "UPLOAD_KINDS",
    "HubUploadError",
    "UploadPlan",
    "check_hub_access",
    "check_repo_id",
    "plan_upload",
    "push_to_hub",
    "upload_files",
]

if __name__ == "__main__":
    main()
