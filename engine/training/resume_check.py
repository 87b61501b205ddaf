"""Resuming a run: what the user asked for against what the run was made with.

Settings that only steer the work (iterations, device, batch size, how often to log, learning
rates) may change and are said; settings that shape the model or the data it sees (image size,
architecture, seed, modality, preset, context, label balance) may not: a resume that asks for a
different one is refused with the list. The dataset's files must be the ones the run recorded
(their sha256), unless the user allows changed data; then the change is recorded in the run.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Any

from engine.errors import TrainingError
from engine.training.config import TrainingConfig
from engine.training.run_folder import TrainingRun

# settings a user may change when resuming (the rest must stay as the run was made)
RESUME_MAY_CHANGE = (
    "iterations",
    "device",
    "num_workers",
    "threads",
    "checkpoint_every",
    "log_every",
    "val_every",
    "preview_every",
    "keep_checkpoints",
    "precision",
    "compile",
    "cache_dir",
    "batch_size",
    "auto_batch",
    "channels_last",
    "lr_g",
    "lr_d",
    "resume_from",
    "allow_changed_data",
)
NOT_COMPARED = ("run", "resume", "data")  # data: the folder may move; its files are checked by hash
# settings added after runs were made, with the value that trains as those runs did (a run folder
# whose config.json lacks one resumes with it, not with today's preset default)
ADDED_LATER = {"lambda_rescan": 0.0, "lambda_hist": 0.0}


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


@dataclasses.dataclass
class ResumePlan:
    config: TrainingConfig
    changed: list[str]  # "iterations 1000 -> 2000": applied


def resolve_resume(config: TrainingConfig) -> TrainingConfig:
    """For --resume, the run's own config with the changeable settings taken from ``config``;
    TrainingError listing every setting asked for that the run cannot change."""
    return plan_resume(config).config


def plan_resume(config: TrainingConfig) -> ResumePlan:
    run = TrainingRun(config.run)
    if not config.resume:
        if run.exists() and run.checkpoints_dir.is_dir() and any(run.checkpoints_dir.glob("*.pt")):
            raise TrainingError(
                f"{run.folder} already holds a training run. Resume it (--resume / Resume button) or "
                "choose a new run folder."
            )
        return ResumePlan(config, [])
    if not run.exists():
        raise TrainingError(f"Nothing to resume: {run.folder} holds no training run (no config.json).")
    try:
        saved = TrainingConfig.from_json({**ADDED_LATER, **run.read_config()["training"]})
    except (KeyError, TypeError, ValueError) as exc:
        raise TrainingError(f"{run.config_path}: the run's settings cannot be read ({exc}).") from None
    defaults = {
        f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
        for f in dataclasses.fields(TrainingConfig)
    }
    changes: dict[str, Any] = {}
    applied, refused = [], []
    for f in dataclasses.fields(TrainingConfig):
        name = f.name
        if name in NOT_COMPARED:
            continue
        asked, was = getattr(config, name), getattr(saved, name)
        if _plain(asked) == _plain(defaults[name]) or _plain(asked) == _plain(was):
            continue  # not asked for, or asked for what the run already has
        text = f"{name.replace('_', ' ')} {was!r} -> {asked!r}"
        if name in RESUME_MAY_CHANGE:
            changes[name] = asked
            applied.append(text)
        else:
            refused.append(text)
    if refused:
        raise TrainingError(
            f"Cannot resume {run.folder} with different settings for the model or its data: "
            + "; ".join(refused)
            + ". These stay as the run was made; resume without them, or start a new run folder to train with them."
        )
    if config.data is not None and saved.data is not None and Path(config.data) != Path(saved.data):
        changes["data"] = config.data
        applied.append(
            f"dataset folder {saved.data} -> {config.data} (its files are checked against the run's)"
        )
    elif config.data is not None and saved.data is None:
        changes["data"] = config.data
    resolved = dataclasses.replace(saved, **changes, resume=True, run=config.run)
    return ResumePlan(resolved, applied)


def changed_data(run: TrainingRun, digests: dict[str, str]) -> list[dict[str, str]]:
    """Cases whose files differ from the sha256 the run recorded: [{"case", "recorded", "now"}]."""
    if not run.manifest_path.is_file():
        return []
    recorded = {c.get("id"): c.get("sha256") for c in run.read_manifest().get("cases", [])}
    out = []
    for case_id, before in recorded.items():
        now = digests.get(case_id)
        if before and now and before != now:
            out.append({"case": case_id, "recorded": before, "now": now})
    return out


def check_resumed_data(run: TrainingRun, digests: dict[str, str], allow: bool) -> list[dict]:
    """Refuse a resume on changed data unless ``allow``; return the history of data changes to
    keep in the run's manifest (earlier entries and, when allowed, this one)."""
    history = list(run.read_manifest().get("data_changes", [])) if run.manifest_path.is_file() else []
    changed = changed_data(run, digests)
    if not changed:
        return history
    names = ", ".join(c["case"] for c in changed[:8]) + (" ..." if len(changed) > 8 else "")
    if not allow:
        raise TrainingError(
            f"The files of {len(changed)} case(s) changed since {run.folder} was trained on them ({names}): "
            "resuming would train one model on two datasets. Resume with the original files, start a new run, "
            "or allow it (--allow-changed-data) if the change is intended."
        )
    when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return [*history, {"when": when, "cases": changed}]
