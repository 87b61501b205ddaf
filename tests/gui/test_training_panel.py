"""The Training panel over the real engine: start, losses arrive, pause, resume, stop, reopen the run,
failures shown, DDP in a child process, closing the window while training."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from engine.data import discover
from engine.resources import DEMO_DATASET
from engine.training.run_folder import TrainingRun
from gui.panels.training_panel import TrainingPanel
from gui.widgets import error_dialog
from tests.engine.training_helpers import tiny_config


@pytest.fixture
def panel(qtbot):
    p = TrainingPanel()
    qtbot.addWidget(p)
    p.set_dataset(discover(DEMO_DATASET, verify=False))
    yield p
    p.stop_and_wait()


def _points(panel, key="loss_g") -> int:
    return len(panel.plot.values(key)[0]) if key in panel.plot.series else 0


def _use_config(panel, monkeypatch, cfg):
    monkeypatch.setattr(panel.form, "config", lambda: cfg)


def test_start_pause_resume_stop_follow_the_worker(panel, qtbot, monkeypatch, tmp_path):
    cfg = tiny_config(tmp_path / "run", iterations=400, checkpoint_every=1000, val_every=5, preview_every=5)
    _use_config(panel, monkeypatch, cfg)
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    panel.start()
    assert not panel.start_button.isEnabled() and not panel.form.isEnabled()
    qtbot.waitUntil(lambda: panel.state == "running", timeout=60_000)
    qtbot.waitUntil(lambda: _points(panel) >= 3, timeout=60_000)
    qtbot.waitUntil(lambda: panel.previews.has_image(), timeout=60_000)
    panel.toggle_pause()
    qtbot.waitUntil(lambda: panel.state == "paused", timeout=30_000)
    assert panel.pause_button.text() == "Resume"
    n = _points(panel)
    qtbot.wait(600)
    assert _points(panel) <= n + 1, "training went on while paused"
    panel.toggle_pause()
    qtbot.waitUntil(lambda: panel.state == "running", timeout=30_000)
    panel.stop()
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=60_000)
    assert panel.start_button.isEnabled() and panel.start_button.text() == "Resume training"
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file(), "stop must write a checkpoint"


def test_open_run_shows_curves_and_samples_and_resumes(panel, qtbot, monkeypatch, tmp_path):
    from engine.training.trainer import train

    cfg = tiny_config(tmp_path / "run", iterations=6)
    train(cfg)
    received = []
    panel.runChanged.connect(received.append)
    assert panel.open_run(tmp_path / "run")
    assert received == [tmp_path / "run"]
    assert _points(panel) == 6
    assert panel.previews.has_image()
    assert panel.start_button.text() == "Resume training"
    _use_config(panel, monkeypatch, dataclasses.replace(cfg, iterations=9))
    panel.start()
    qtbot.waitUntil(lambda: panel.state == "idle" and not panel.is_busy(), timeout=60_000)
    assert TrainingRun(tmp_path / "run").read_metrics()[-1]["iteration"] == 9


def test_failing_training_is_shown_and_the_panel_returns_to_idle(panel, qtbot, monkeypatch, tmp_path):
    shown = []
    monkeypatch.setattr(error_dialog, "show_error", lambda parent, title, message, details=None: shown.append(message))
    empty = tmp_path / "empty"
    empty.mkdir()
    _use_config(panel, monkeypatch, tiny_config(tmp_path / "run", data=empty))
    panel.start()
    qtbot.waitUntil(lambda: panel.state == "idle" and not panel.is_busy(), timeout=60_000)
    assert shown and "no usable labeled case" in shown[0]


def test_form_validation_blocks_a_bad_start(panel):
    panel.form.run_folder.setText("")
    panel.start()
    assert panel.state == "idle" and "run" in panel.form.error.text()


def test_several_processes_train_in_a_torchrun_child(panel, qtbot, monkeypatch, tmp_path):
    cfg = tiny_config(tmp_path / "run", iterations=6, val_every=3, preview_every=3)
    panel.start_distributed(cfg, nproc=2)
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=300_000)
    assert panel.state == "idle"
    assert _points(panel) == 6
    assert panel.previews.has_image()
    assert TrainingRun(tmp_path / "run").read_config()["world_size"] == 2


def test_a_crashing_child_is_reported_not_fatal(panel, qtbot, monkeypatch, tmp_path):
    shown = []
    monkeypatch.setattr(error_dialog, "show_error", lambda parent, title, message, details=None: shown.append((message, details)))
    cfg = tiny_config(tmp_path / "run", data=tmp_path / "missing")
    panel.start_distributed(cfg, nproc=2)
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=300_000)
    assert shown and "not found" in (shown[0][0] + shown[0][1])
    assert panel.state == "idle"


def test_closing_the_window_while_training_asks_then_stops_and_waits(qtbot, monkeypatch, tmp_path):
    from gui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    panel = window.training_panel
    panel.set_dataset(discover(DEMO_DATASET, verify=False))
    _use_config(panel, monkeypatch, tiny_config(tmp_path / "run", iterations=10_000, checkpoint_every=100_000))
    panel.start()
    qtbot.waitUntil(lambda: _points(panel) >= 2, timeout=60_000)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No)
    window.close()
    assert asked, "closing while training must ask first"
    assert panel.is_busy(), "answering No keeps the training running"
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.close()
    assert not panel.is_busy(), "the training thread must be stopped and waited for"
    assert (Path(tmp_path) / "run" / "checkpoints" / "last.pt").is_file()
