"""The runs of a folder side by side: what each was trained on and how (dataset, preset, image size,
iterations, device, time), how far it got, its best validation and its quality verdicts, and its
validation curves, so two settings can be compared without a terminal (the window's Runs view).

Everything is read through ``TrainingRun`` (the run folder's layout has one owner) and the quality
report's own reader; nothing is written. It lives at the evaluation layer because a run's summary
includes the verdicts of its quality report, which engine.training may not import.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.evaluation.schema import REPORT_FILE
from engine.events import Control, Progress, ignore_events
from engine.training.run_folder import TrainingRun
from engine.training.run_lock import read_lock

CURVE_KEYS = ("val_ssim", "val_psnr", "val_l1")  # the validation metrics training logs
HIGHER_IS_BETTER = {"val_ssim": True, "val_psnr": True, "val_l1": False}
MAX_DEPTH = 2  # RUNS/run and RUNS/project/run
VERDICT_ORDER = ("fidelity", "intensity_w1", "diversity", "memorization", "tstr", "realism", "utility_study")


@dataclass
class RunSummary:
    """One run folder as the Runs view shows it. ``problem`` says why a folder that looks like a
    run cannot be read (the other fields are then mostly empty)."""

    folder: Path
    name: str
    dataset: str = ""  # the dataset folder's name (the full path is ``dataset_path``)
    dataset_path: str = ""
    modality: str = ""
    preset: str = ""
    image_size: int | None = None
    iteration: int = 0  # the last logged iteration
    iterations: int | None = None  # the planned number
    device: str = ""
    seconds: float | None = None  # training time (paused time left out), from metrics.jsonl
    started: str = ""  # when training started (ISO time, from config.json)
    state: str = ""  # finished | stopped | interrupted | training | busy (...) | new
    best: dict[str, tuple[int, float]] = field(default_factory=dict)  # metric -> (iteration, value)
    verdicts: dict[str, str] = field(default_factory=dict)  # measure -> good | fair | poor | warning
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # metric -> (its, values)
    has_checkpoint: bool = False
    problem: str | None = None

    @property
    def busy(self) -> bool:
        return self.state.startswith(("training", "busy"))

    @property
    def can_resume(self) -> bool:
        """A checkpoint to go on from, iterations left, and nobody working on the run now."""
        left = self.iterations is None or self.iteration < self.iterations
        return self.problem is None and self.has_checkpoint and left and not self.busy


def find_runs(folder: Path, max_depth: int = MAX_DEPTH) -> list[Path]:
    """Run folders at ``folder`` or below it (at most ``max_depth`` levels), never inside a run."""
    folder = Path(folder)
    if TrainingRun(folder).exists():
        return [folder]
    if max_depth <= 0 or not folder.is_dir():
        return []
    found = []
    try:
        children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
    for child in children:
        found += find_runs(child, max_depth - 1)
    return found


def best_values(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, tuple[int, float]]:
    """The best logged value of each validation metric and its iteration (NaN/None skipped)."""
    best = {}
    for key, (its, values) in curves.items():
        finite = np.isfinite(values)
        if not finite.any():
            continue
        pick = np.nanargmax if HIGHER_IS_BETTER.get(key, True) else np.nanargmin
        i = int(pick(np.where(finite, values, np.nan)))
        best[key] = (int(its[i]), float(values[i]))
    return best


def curves_of(records: Iterable[dict], keys: tuple[str, ...] = CURVE_KEYS) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(iterations, values) of each validation metric in ``records`` (metrics.jsonl lines). A
    resumed run may log an iteration again: the later record wins, so the curve never goes back."""
    points: dict[str, dict[int, float]] = {}
    for rec in records:
        it = rec.get("iteration")
        if isinstance(it, bool) or not isinstance(it, int):
            continue
        for key in keys:
            value = rec.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                points.setdefault(key, {})[it] = float(value) if math.isfinite(value) else math.nan
    out = {}
    for key, by_it in points.items():
        its = np.array(sorted(by_it), dtype=np.int64)
        out[key] = (its, np.array([by_it[int(i)] for i in its], dtype=np.float64))
    return out


def _verdicts(run: TrainingRun) -> dict[str, str]:
    """The verdict of each measure of the run's quality report ({} when there is none). Lenient: a
    report another version wrote still shows the verdicts it has."""
    try:
        report = json.loads((run.quality_dir / REPORT_FILE).read_text(encoding="utf-8"))
        raw = report.get("verdicts") if isinstance(report, dict) else None
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    out = {}
    for key in sorted(raw, key=lambda k: (VERDICT_ORDER.index(k) if k in VERDICT_ORDER else 99, k)):
        status = raw[key].get("status") if isinstance(raw[key], dict) else None
        if isinstance(status, str) and status:
            out[key] = status.lower()
    return out


def _state(run: TrainingRun, iteration: int, iterations: int | None) -> str:
    holder = read_lock(run.folder)
    if holder is not None:
        purpose = str(holder.get("purpose") or "")
        return "training" if purpose.startswith("train") else f"busy ({purpose or 'in use'})"
    state = str(run.read_status().get("state") or "")
    if state in ("running", "paused", "starting"):
        return "interrupted"  # it said it was working, and nobody holds the lock any more
    if state:
        return state
    if iterations is not None and iteration >= iterations:
        return "finished"
    return "interrupted" if iteration else "new"


def _device(record: dict) -> str:
    name = str(record.get("device_name") or record.get("device") or "")
    world = record.get("world_size")
    if isinstance(world, int) and world > 1:
        return f"{world} x {name}" if name else f"{world} processes"
    return name


def summarise_run(folder: Path) -> RunSummary:
    """What the Runs view shows of one run folder; an unreadable one says why in ``problem``."""
    run = TrainingRun(Path(folder))
    summary = RunSummary(run.folder, run.folder.name)
    try:
        record = run.read_config()
        training = record.get("training") if isinstance(record.get("training"), dict) else {}
        records = run.read_metrics()
    except (OSError, ValueError) as exc:
        summary.problem = f"{run.config_path}: cannot be read ({exc})"
        return summary
    except Exception as exc:  # a domain error of the run folder (not a run, damaged record)
        summary.problem = str(exc)
        return summary
    dataset = run.dataset_folder() or (Path(training["data"]) if isinstance(training.get("data"), str) else None)
    summary.dataset = dataset.name if dataset else ""
    summary.dataset_path = str(dataset) if dataset else ""
    summary.modality = str(record.get("modality") or "")
    summary.preset = str(training.get("preset") or "")
    size = training.get("image_size")
    summary.image_size = size if isinstance(size, int) and not isinstance(size, bool) else None
    planned = training.get("iterations")
    summary.iterations = planned if isinstance(planned, int) and not isinstance(planned, bool) else None
    summary.device = _device(record)
    summary.started = str(record.get("written") or "")
    its = [r["iteration"] for r in records if isinstance(r.get("iteration"), int)]
    summary.iteration = max(its) if its else 0
    times = [r["time_s"] for r in records if isinstance(r.get("time_s"), (int, float))]
    summary.seconds = float(times[-1]) if times else None
    summary.curves = curves_of(records)
    summary.best = best_values(summary.curves)
    summary.verdicts = _verdicts(run)
    summary.has_checkpoint = run.has_checkpoint()
    summary.state = _state(run, summary.iteration, summary.iterations)
    return summary


def list_runs(folder: Path, on_event=ignore_events, control: Control | None = None) -> list[RunSummary]:
    """Every run at or below ``folder`` (two levels), newest first (the engine-contract shape, so
    the window lists a large folder in its worker)."""
    folders = find_runs(Path(folder))
    out = []
    for i, path in enumerate(folders):
        if control is not None:
            control.raise_if_stopped()
        on_event(Progress(i, len(folders), f"Reading {path.name}"))
        out.append(summarise_run(path))
    on_event(Progress(len(folders), len(folders), f"{len(folders)} run(s) in {folder}"))
    return sorted(out, key=lambda s: (s.started, s.name), reverse=True)
