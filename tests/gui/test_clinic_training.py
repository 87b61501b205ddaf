"""The Training panel for clinicians (issue 14 §4, §6, §7): the quality curve and a plain-words state
by default, every loss one click away, tooltips for every term, large previews that open full size,
the device as the engine reports it, ETA blank unless running, a reset when another dataset is
opened, and the close-while-training question defaulting to No."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFormLayout, QLabel, QMessageBox

from engine.data import discover
from engine.evaluation.training_state import assess
from engine.resources import DEMO_DATASET
from engine.training.run_folder import TrainingRun
from engine.training.trainer import train
from gui.main_window import MainWindow
from gui.panels.training_panel import TrainingPanel
from gui.panels.training_stats import STAT_TITLES
from gui.widgets.loss_series import TERMS
from tests.engine.training_helpers import tiny_config

pytestmark = pytest.mark.slow
WAIT = 90_000


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("clinic") / "run"
    train(tiny_config(run, iterations=8, val_every=2, preview_every=2))
    return run


@pytest.fixture
def panel(qtbot):
    p = TrainingPanel()
    qtbot.addWidget(p)
    p.resize(1130, 690)
    p.show()
    p.set_dataset(discover(DEMO_DATASET, verify=False))
    yield p
    p.stop_and_wait()


def losses(panel) -> int:
    return len(panel.plot.values("loss_g")[0]) if "loss_g" in panel.plot.series else 0


def test_a_run_opens_on_its_quality_curve_and_state(panel, qtbot, trained_run):
    assert panel.open_run(trained_run)
    charts = panel.charts
    assert not charts.showing_losses()  # the clinician's view first
    metrics = TrainingRun(trained_run).read_metrics()
    points = [m for m in metrics if "val_ssim" in m]
    assert charts.quality.xs == [float(m["iteration"]) for m in points] and len(points) == 4
    expected = assess(
        [m["iteration"] for m in points],
        [m["val_ssim"] for m in points],
        [m["loss_g"] for m in metrics if "loss_g" in m],
        [m["loss_d"] for m in metrics if "loss_d" in m],
    )
    assert charts.quality.headline.text() == expected.headline
    assert charts.quality.detail.text() == expected.detail
    assert "SSIM" in charts.quality.readout.text() and "good ≥ 0.75" in charts.quality.readout.text()
    qtbot.mouseClick(charts.toggle, Qt.MouseButton.LeftButton)  # the engineers' plot, one click away
    assert charts.showing_losses() and losses(panel) == 8
    qtbot.mouseClick(charts.toggle, Qt.MouseButton.LeftButton)
    assert not charts.showing_losses()
    record = json.loads((trained_run / "config.json").read_text())
    assert panel.stats["device"].text() == record["device_name"]  # what the engine ran on
    assert "compute thread" in record["device_name"]


def test_every_term_has_a_tooltip(panel, trained_run):
    panel.open_run(trained_run)
    terms = panel.plot.plot_widget.toolTip()  # the engineers' plot names and explains every curve
    assert panel.plot.series, "the run's losses are loaded"
    for key in panel.plot.series:  # each curve shown is explained in words, not by the fallback
        assert key in TERMS and TERMS[key] in terms, key
    assert "Discriminator:" in terms and "L1:" in terms and "Adversarial:" in terms
    for key in STAT_TITLES:
        assert panel.stats[key].toolTip()
    titles = [
        w for w in panel.stats_grid.findChildren(QLabel) if w.text() in {t for t, _ in STAT_TITLES.values()}
    ]
    assert len(titles) == len(STAT_TITLES) and all(t.toolTip() for t in titles)
    forms = panel.form.findChildren(QFormLayout)
    assert forms
    for form in forms:
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if item is not None and item.widget() is not None:
                assert item.widget().toolTip(), f"no tooltip for {item.widget().text()!r}"
    assert panel.charts.quality.headline.toolTip() and panel.charts.quality.plot_widget.toolTip()
    assert panel.previews.image.toolTip() and panel.charts.toggle.toolTip()


def test_the_preview_opens_full_size(panel, qtbot, trained_run):
    panel.open_run(trained_run)
    assert panel.previews.has_image()
    qtbot.mouseClick(panel.previews.image, Qt.MouseButton.LeftButton)
    dialog = panel.previews.dialog
    assert dialog is not None and dialog.isVisible()
    shown, native = dialog.image.pixmap(), panel.previews._pixmap
    screen = panel.screen().availableGeometry()
    assert shown.width() >= native.width() and shown.height() >= native.height()  # never shrunk
    # as large as the screen allows: one side fills it (less the dialog's frame and caption)
    assert shown.width() >= screen.width() - 81 or shown.height() >= screen.height() - 121
    assert abs(shown.width() / shown.height() - native.width() / native.height()) < 0.02  # not distorted
    dialog.close()


def test_another_dataset_resets_the_panel_and_the_same_one_keeps_the_run(panel, trained_run, real_data):
    panel.open_run(trained_run)
    panel.set_dataset(discover(DEMO_DATASET, verify=False))  # the run's own dataset: kept
    assert panel.run_folder == trained_run and losses(panel) == 8
    panel.set_dataset(discover(real_data / "head_ct", verify=False))
    assert panel.run_folder is None and losses(panel) == 0 and panel.charts.quality.xs == []
    assert not panel.previews.has_image()
    assert panel.start_button.text() == "Start training" and panel.stats["iteration"].text() == "–"
    assert panel.form.data_folder == real_data / "head_ct" and "head_ct" in panel.form.run_folder.text()
    assert "head_ct" in panel.context.text()


def test_eta_is_blank_unless_running_and_a_dataset_opened_meanwhile_waits(
    panel, qtbot, monkeypatch, tmp_path, real_data
):
    cfg = tiny_config(tmp_path / "run", iterations=5000, checkpoint_every=100_000, val_every=1000)
    monkeypatch.setattr(panel.form, "config", lambda: cfg)
    assert panel.stats["eta"].text() == ""
    panel.start()
    qtbot.waitUntil(lambda: panel.state == "running" and panel.stats["eta"].text() != "", timeout=WAIT)
    panel.toggle_pause()
    qtbot.waitUntil(lambda: panel.state == "paused", timeout=WAIT)
    assert panel.stats["eta"].text() == "" and panel.stats["speed"].text() == "–"
    qtbot.wait(300)
    assert panel.stats["eta"].text() == "", "no ETA comes back while paused"
    panel.set_dataset(discover(real_data / "head_ct", verify=False))  # during the run: the run stays
    assert panel.run_folder == tmp_path / "run" and "used once this run ends" in panel.context.text()
    panel.toggle_pause()
    qtbot.waitUntil(lambda: panel.state == "running", timeout=WAIT)
    panel.stop()
    qtbot.waitUntil(lambda: panel.state == "idle" and not panel.is_busy(), timeout=WAIT)
    assert panel.stats["eta"].text() == ""
    assert panel.run_folder is None and panel.form.data_folder == real_data / "head_ct"  # then it starts over


def test_closing_while_training_asks_with_no_as_the_default(qtbot, monkeypatch, tmp_path):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    panel = window.training_panel
    panel.set_dataset(discover(DEMO_DATASET, verify=False))
    monkeypatch.setattr(
        panel.form,
        "config",
        lambda: tiny_config(tmp_path / "run", iterations=10_000, checkpoint_every=100_000),
    )
    panel.start()
    qtbot.waitUntil(lambda: losses(panel) >= 2, timeout=WAIT)
    seen = {}

    def answer_with_enter():
        box = QApplication.activeModalWidget()
        seen["box"] = isinstance(box, QMessageBox)
        if seen["box"]:
            seen["default_is_no"] = box.defaultButton() is box.button(QMessageBox.StandardButton.No)
            QTest.keyClick(box, Qt.Key.Key_Return)  # a reflex Enter must not stop the training
        else:
            QTimer.singleShot(50, answer_with_enter)

    QTimer.singleShot(50, answer_with_enter)
    window.close()
    assert seen.get("box") and seen.get("default_is_no")
    assert window.isVisible() and panel.is_busy(), "Enter answered No: the training goes on"
    panel.stop_and_wait()
