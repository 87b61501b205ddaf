"""The widgets take NumPy arrays and plain values: importing them loads neither torch nor gui panels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_widgets_do_not_import_torch():
    code = (
        "import importlib, pkgutil, sys, gui.widgets, gui.theme\n"
        "for m in pkgutil.iter_modules(gui.widgets.__path__, 'gui.widgets.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'torch' or m.startswith('gui.panels'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"widgets pulled in: {out.stdout.strip()}"
