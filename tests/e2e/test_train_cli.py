"""`python main.py train` as a user runs it: killed with SIGKILL part way, then resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from engine.training.run_folder import TrainingRun
from tests.engine.training_helpers import TINY_MODEL

REPO = Path(__file__).resolve().parents[2]


def _settings(tmp_path: Path) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({
        "image_size": 64, "batch_size": 2, "base_channels": 8, "model_overrides": TINY_MODEL,
        "log_every": 1, "val_every": 10, "preview_every": 10, "val_slices": 4, "threads": 1,
        "cache_dir": str(tmp_path / "cache"),
    }))
    return path


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "main.py", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, **kw)


def test_sigkill_then_resume_reaches_the_end_without_restarting(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "main.py", "train", "--data", "resources/demo", "--run", str(run),
           "--config", str(_settings(tmp_path)), "--iterations", "400", "--checkpoint-every", "5",
           "--device", "cpu"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    ckpts = run / "checkpoints"
    while time.time() < deadline:
        numbered = sorted(ckpts.glob("ckpt_*.pt")) if ckpts.is_dir() else []
        if len(numbered) >= 2:
            break
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode())
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    killed_at = torch.load(ckpts / "last.pt", weights_only=True)["iteration"]
    assert 0 < killed_at < 400
    logged_before = [r["iteration"] for r in TrainingRun(run).read_metrics() if "loss_g" in r]
    assert max(logged_before) >= killed_at

    out = _cli("train", "--run", str(run), "--resume", "--iterations", str(killed_at + 12), "--device", "cpu")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert f"at iteration {killed_at + 12}/{killed_at + 12}" in out.stdout
    metrics = TrainingRun(run).read_metrics()
    iters = [r["iteration"] for r in metrics if "loss_g" in r]
    assert iters == list(range(1, killed_at + 13)), "iterations lost or repeated across the kill"
    final = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert final["iteration"] == killed_at + 12


def test_train_cli_errors_are_messages_not_tracebacks(tmp_path):
    out = _cli("train", "--data", str(tmp_path / "missing"), "--run", str(tmp_path / "r"))
    assert out.returncode != 0 and "Traceback" not in out.stderr and "not found" in out.stderr
    out = _cli("train", "--data", "resources/demo", "--run", str(tmp_path / "r"), "--image-size", "100")
    assert out.returncode != 0 and "image size 100" in out.stderr and "Traceback" not in out.stderr
