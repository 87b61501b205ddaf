# ruff: noqa: F811  (pytest fixtures imported from the engine and gallery tests are parameters here)
"""The Runs view: a folder of two real tiny runs in the table, their curves overlaid when ticked,
Open / Resume enabled by what each run allows, and Resume from the window training the stopped run
to its end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.training.run_lock import RunLock
from gui.main_window import MainWindow
from gui.panels.runs_panel import RunsPanel
from gui.panels.runs_table import COLUMNS, QUALITY_COLUMN
from tests.engine.test_runs_index import runs, train_runs, trained  # noqa: F401  (fixtures)
from tests.gui.test_gallery_panel import errors  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow
WAIT_MS = 120_000


@pytest.fixture
def panel(qtbot, errors):
    p = RunsPanel()
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.stop_and_wait()


def listed(qtbot, panel, folder):
    panel.set_folder(folder)
    qtbot.waitUntil(lambda: not panel.is_busy() and panel.table.rowCount() == len(panel.runs), timeout=WAIT_MS)
    qtbot.wait(30)


def cell(panel, folder, column) -> str:
    return panel.table.item(panel.table.row_of(folder), COLUMNS.index(column)).text()


def test_the_table_shows_each_run(qtbot, panel, runs, errors):
    listed(qtbot, panel, runs)
    done, half = runs / "finished", runs / "project" / "stopped"
    assert panel.table.rowCount() == 2 and errors == []
    assert cell(panel, done, "Iterations") == "6 / 6" and cell(panel, half, "Iterations") == "3 / 6"
    assert cell(panel, done, "Image size") == "64 px" and cell(panel, half, "Image size") == "80 px"
    assert cell(panel, done, "State") == "finished" and cell(panel, half, "State") == "stopped"
    assert cell(panel, done, "Preset") == "quick" and cell(panel, done, "Dataset") == "demo"
    lines = [json.loads(x) for x in (done / "metrics.jsonl").read_text().splitlines()]
    best = max((r["val_ssim"], r["iteration"]) for r in lines if "val_ssim" in r)
    assert cell(panel, done, "Best validation") == f"SSIM {best[0]:.3f} @ {best[1]}"
    quality = panel.table.cellWidget(panel.table.row_of(done), QUALITY_COLUMN)
    assert "no report" in quality.text()
    assert "2 runs" in panel.summary.text()

    # sorting by a column keeps each row's cells together
    panel.table.sortItems(COLUMNS.index("Image size"), Qt.SortOrder.DescendingOrder)
    assert panel.table.folder_at(0) == half and cell(panel, half, "Iterations") == "3 / 6"


def test_ticked_runs_overlay_their_curves(qtbot, panel, runs):
    listed(qtbot, panel, runs)
    plot = panel.plot
    assert plot.curves == {} and "Tick runs" in plot.hint.text()
    for run in panel.runs:
        panel.table.set_checked(run.folder, True)
    assert set(plot.curves) == {r.folder for r in panel.runs}
    for run in panel.runs:
        x, y = plot.curves[run.folder].getData()
        assert np.array_equal(x, run.curves["val_ssim"][0]) and np.allclose(y, run.curves["val_ssim"][1])
    plot.set_metric("val_psnr")
    for run in panel.runs:
        assert np.allclose(plot.curves[run.folder].getData()[1], run.curves["val_psnr"][1])
    panel.table.set_checked(runs / "finished", False)
    assert list(plot.curves) == [runs / "project" / "stopped"]
    panel.refresh()  # a new listing keeps the ticks
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=WAIT_MS)
    qtbot.wait(30)
    assert panel.table.checked() == [runs / "project" / "stopped"]


def test_open_and_resume_follow_the_selected_run(qtbot, panel, runs):
    listed(qtbot, panel, runs)
    done, half = runs / "finished", runs / "project" / "stopped"
    panel.table.select(done)
    assert panel.open_button.isEnabled() and not panel.resume_button.isEnabled()  # nothing left to train
    with qtbot.waitSignal(panel.openRequested) as opened:
        qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    assert opened.args == [done]
    panel.table.select(half)
    assert panel.resume_button.isEnabled()
    with qtbot.waitSignal(panel.resumeRequested) as resumed:
        qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    assert resumed.args == [half]

    with RunLock(half, "training"):  # another process trains it: neither button
        panel.refresh()
        qtbot.waitUntil(lambda: not panel.is_busy(), timeout=WAIT_MS)
        qtbot.wait(30)
        panel.table.select(half)
        assert cell(panel, half, "State") == "training"
        assert not panel.open_button.isEnabled() and not panel.resume_button.isEnabled()


def test_unreadable_runs_and_missing_folders_are_said(qtbot, panel, runs, tmp_path, errors):
    bad = runs / "broken"
    bad.mkdir()
    (bad / "config.json").write_text("{ truncated")
    listed(qtbot, panel, runs)
    row = panel.table.row_of(bad)
    assert panel.table.item(row, COLUMNS.index("State")).text() == "unreadable"
    assert "config.json" in panel.table.item(row, 0).toolTip() and "1 cannot be read" in panel.summary.text()
    panel.table.select(bad)
    assert not panel.open_button.isEnabled() and not panel.resume_button.isEnabled()
    listed(qtbot, panel, tmp_path / "no such folder")
    assert panel.table.rowCount() == 0 and "No training runs" in panel.summary.text() and errors == []


@pytest.fixture
def window(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    yield w
    for p in w.panels.values():
        p.stop_and_wait()


def test_resume_from_the_window_trains_the_stopped_run_to_its_end(qtbot, window, runs, errors):
    window.nav.setCurrentRow(window.nav.count() - 1)
    view = window.runs_panel
    assert window.stack.currentWidget() is view
    listed(qtbot, view, runs)
    half = runs / "project" / "stopped"
    view.table.select(half)
    qtbot.mouseClick(view.resume_button, Qt.MouseButton.LeftButton)
    training = window.training_panel
    assert window.stack.currentWidget() is training and training.run_folder == half
    qtbot.waitUntil(lambda: not training.is_busy() and training.state == "idle", timeout=WAIT_MS)
    assert errors == [], errors[0][1]
    lines = [json.loads(x) for x in (half / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in lines] == [1, 2, 3, 4, 5, 6]  # went on from 3, nothing repeated
    window.nav.setCurrentRow(window.nav.count() - 1)  # back in the Runs view: listed again
    qtbot.waitUntil(lambda: not view.is_busy() and cell(view, half, "Iterations") == "6 / 6", timeout=WAIT_MS)
    assert cell(view, half, "State") == "finished" and view.table.current().folder == half
