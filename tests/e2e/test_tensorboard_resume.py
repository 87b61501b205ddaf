"""TensorBoard curves across a SIGKILL of `python main.py train` and a resume, read back with
TensorBoard's own EventAccumulator: every step once, in order, the resumed session's values where
the killed one had logged past its last checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

from engine.training.run_folder import TrainingRun
from tests.engine.training_helpers import TINY_MODEL

REPO = Path(__file__).resolve().parents[2]


def _settings(tmp_path: Path) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "image_size": 64,
                "batch_size": 2,
                "base_channels": 8,
                "model_overrides": TINY_MODEL,
                "log_every": 1,
                "val_every": 2,
                "preview_every": 4,
                "val_slices": 4,
                "threads": 1,
                "cache_dir": str(tmp_path / "cache"),
            }  # fmt: skip
        )
    )
    return path


def _steps(folder: Path, tag: str) -> list[tuple[int, float]]:
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)] if tag in acc.Tags()["scalars"] else []


def _raw_events(folder: Path) -> list[list]:
    """Every event file's events, oldest file first (no purging: what is on disk)."""
    return [list(EventFileLoader(str(p)).Load()) for p in sorted(folder.glob("events.out.tfevents.*"))]


@pytest.mark.slow
def test_sigkill_and_resume_continue_the_same_curves(tmp_path):
    run = tmp_path / "run"
    board = TrainingRun(run).tensorboard_dir
    cmd = [sys.executable, "main.py", "train", "--data", "resources/demo", "--run", str(run),
           "--config", str(_settings(tmp_path)), "--iterations", "400", "--checkpoint-every", "6",
           "--device", "cpu"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, ckpt = time.time() + 300, run / "checkpoints" / "last.pt"
    try:
        while time.time() < deadline:  # kill once the board shows steps past a checkpoint
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode())
            if ckpt.exists() and board.is_dir():
                saved = torch.load(ckpt, weights_only=True)["iteration"]
                if any(step >= saved + 2 for step, _ in _steps(board, "loss/generator")):
                    break
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    killed_at = torch.load(ckpt, weights_only=True)["iteration"]
    before = _raw_events(board)
    logged_past = [e.step for e in before[0] if e.summary.value and e.step > killed_at]
    assert logged_past, "the killed session should have logged steps after its checkpoint"

    total = killed_at + 8
    out = subprocess.run(
        [sys.executable, "main.py", "train", "--run", str(run), "--resume", "--iterations", str(total),
         "--device", "cpu"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr

    # the resumed session's file starts by purging everything after the checkpoint
    after = _raw_events(board)
    assert len(after) == 2
    starts = [e for e in after[1] if e.HasField("session_log")]
    assert starts and starts[0].step == killed_at + 1 and starts[0].session_log.status == 1  # START

    metrics = TrainingRun(run).read_metrics()
    for tag, key in (("loss/generator", "loss_g"), ("val/ssim", "val_ssim")):
        curve = _steps(board, tag)
        steps = [s for s, _ in curve]
        assert steps == sorted(set(steps)), f"{tag}: duplicate or backward steps {steps}"
        expected = [(r["iteration"], r[key]) for r in metrics if key in r]
        assert steps == [i for i, _ in expected] and steps[-1] == total
        # past the checkpoint the values are the resumed session's (metrics.jsonl was truncated there too)
        assert [round(v, 5) for _, v in curve] == [round(v, 5) for _, v in expected]
