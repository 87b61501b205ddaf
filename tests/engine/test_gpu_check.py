"""benchmarks/gpu_check.py: without CUDA it says so and exits non-zero at once; in CPU smoke mode it
runs every code path (training steps in every mode with torch.compile, the memory planner,
generation through a trained run, DDP through torchrun) and writes its table as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


def test_without_cuda_it_says_so_and_fails_fast(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, str(SCRIPT), "--json", str(tmp_path / "x.json")], capture_output=True,
                         text=True, timeout=120, env=env)  # fmt: skip
    assert out.returncode == 2
    assert "No CUDA GPU is available" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "x.json").exists()


@pytest.mark.slow
def test_cpu_smoke_runs_every_code_path(tmp_path):
    result = tmp_path / "gpu_check.json"
    out = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--smoke", "--json", str(result)],
                         capture_output=True, text=True, timeout=900)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(result.read_text())
    steps = {(r["size"], r["mode"]): r for r in report["steps"]}
    assert len(steps) == 8
    for (size, mode), row in steps.items():
        if mode.endswith("compile") and size != 64:
            assert row["error"] == "skipped: smoke compiles once"
            continue
        assert row.get("images_per_s", 0) > 0, row  # compiled too: no row failed
    assert [m["size"] for m in report["memory"]] == [64, 80] and all(
        m["estimate_bytes"] > 0 for m in report["memory"]
    )
    assert report["generation"]["size_xyz"] == [64, 64, 8] and report["generation"]["seconds"] > 0
    assert report["ddp"]["world_size"] == 2 and report["ddp"]["backend"] == "gloo"
    assert report["ddp"]["images_per_s"] > 0 and report["ddp"]["speedup"] > 0
    assert "step 64 px, bf16+channels_last+compile" in out.stdout and "DDP on 2" in out.stdout
