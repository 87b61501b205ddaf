"""benchmarks/export_speed.py stays runnable (on a tiny volume; the figures are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "export_speed.py"


def test_export_speed_benchmark_runs(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--size",
            "32",
            "--slices",
            "4",
            "--repeat",
            "1",
            "--tmp",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "export, all formats" in out.stdout and "MB/s" in out.stdout
    assert list(tmp_path.iterdir()) == []
