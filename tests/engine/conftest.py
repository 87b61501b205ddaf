"""Fixtures shared by the engine tests: a tiny trained run (once per module) and a copy of it per
test, for tests that damage or change a run folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.engine.training_helpers import tiny_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A tiny run trained for 6 iterations: checkpoints at 3 and 6, and last.pt."""
    from engine.training.trainer import train

    base = tmp_path_factory.mktemp("tiny run")
    train(tiny_config(base / "run", iterations=6))
    return base / "run"


@pytest.fixture
def tiny_run_copy(tiny_run, tmp_path) -> Path:
    """A copy of tiny_run the test may damage."""
    return Path(shutil.copytree(tiny_run, tmp_path / "run"))
