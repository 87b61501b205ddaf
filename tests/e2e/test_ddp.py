"""DDP without a GPU: torchrun with 2 CPU processes (gloo) trains, only rank 0 writes, and the run
resumes in a single process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from engine.training.run_folder import TrainingRun
from tests.engine.training_helpers import TINY_MODEL

REPO = Path(__file__).resolve().parents[2]


def _settings(tmp_path: Path) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({
        "image_size": 64, "batch_size": 2, "base_channels": 8, "model_overrides": TINY_MODEL,
        "log_every": 1, "val_every": 3, "preview_every": 3, "val_slices": 4, "threads": 1,
        "cache_dir": str(tmp_path / "cache"), "checkpoint_every": 3,
    }))
    return path


def test_torchrun_two_cpu_processes_then_single_process_resume(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
           "main.py", "train", "--data", "resources/demo", "--run-dir", str(run), "--config", str(_settings(tmp_path)),
           "--iterations", "6", "--device", "cpu"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    status = json.loads((run / "status.json").read_text())
    assert status["world_size"] == 2 and status["steps_per_rank"] == [6, 6], "both ranks must step"
    config = TrainingRun(run).read_config()
    assert config["world_size"] == 2
    # only rank 0 writes: one metrics line per logged iteration, one preview per preview step
    iters = [r["iteration"] for r in TrainingRun(run).read_metrics() if "loss_g" in r]
    assert iters == [1, 2, 3, 4, 5, 6]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["iter_00000003.png", "iter_00000006.png"]
    assert out.stdout.count("Training finished") == 1, "rank 1 must not print its own summary"
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["iteration"] == 6 and ckpt["world_size"] == 2

    # the same run goes on in one process
    out = subprocess.run([sys.executable, "main.py", "train", "--run", str(run), "--resume", "--iterations", "9",
                          "--device", "cpu"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    status = json.loads((run / "status.json").read_text())
    assert status["iteration"] == 9 and status["world_size"] == 1 and status["steps_per_rank"] == [3]
    iters = [r["iteration"] for r in TrainingRun(run).read_metrics() if "loss_g" in r]
    assert iters == list(range(1, 10))


def test_ddp_gradients_come_from_both_ranks(tmp_path):
    """Rank 1's data changes the weights: the 2-process run differs from one process on rank 0's data."""
    runs = {}
    for n in (1, 2):
        run = tmp_path / f"run{n}"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(n), "--master-port", str(29540 + n),
               "main.py", "train", "--data", "resources/demo", "--run-dir", str(run), "--config", str(_settings(tmp_path)),
               "--iterations", "2", "--device", "cpu"]
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        runs[n] = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["trainer"]["generator"]
    diffs = [float((runs[1][k].float() - runs[2][k].float()).abs().max()) for k in runs[1]]
    assert max(diffs) > 1e-6
