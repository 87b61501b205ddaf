"""The whole path a first-time user takes, through the main window: open the demo dataset, train,
see losses, pause, resume, stop, open the run again, generate, browse the gallery, export."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from gui import settings as st
from gui.main_window import MainWindow
from gui.widgets import error_dialog
from tests.engine.training_helpers import tiny_config
from tests.gui.test_gallery_panel import export_through_dialog, generate, wait_for_export

WAIT = 120_000


@pytest.fixture
def errors(monkeypatch):
    shown = []

    def record(parent, title, message, details=None):
        shown.append((title, message))

    monkeypatch.setattr(error_dialog, "show_error", record)  # the one error path of every panel
    return shown


def test_first_time_user_from_demo_to_export(qtbot, tmp_path, monkeypatch, errors):
    monkeypatch.setattr("gui.dialogs.export_summary.QDesktopServices.openUrl", lambda url: None)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    ds = window.dataset_panel
    assert ds.pages.currentIndex() == 0, "no data: the welcome page"
    qtbot.mouseClick(ds.welcome.demo_button, Qt.MouseButton.LeftButton)  # click 1
    qtbot.waitUntil(lambda: ds.result is not None and not ds.is_busy(), timeout=WAIT)
    assert ds.summary_label.text() == "1 case ready, 0 skipped"
    assert ds.case_table.rowCount() == 1 and ds.label_table.rowCount() == 4
    qtbot.waitUntil(lambda: ds.viewer.has_volume(), timeout=WAIT)
    assert ds.viewer.legend_names() == ["CSF", "grey matter", "white matter"]
    assert st.read_list(window.settings, "recent/datasets")[0].endswith("demo")

    qtbot.mouseClick(ds.train_button, Qt.MouseButton.LeftButton)  # click 2
    assert window.stack.currentWidget() is window.training_panel
    tp = window.training_panel
    assert tp.form.data_folder is not None and tp.form.run_folder.text()
    run = tmp_path / "run"
    cfg = tiny_config(run, iterations=2000, val_every=5, preview_every=5, checkpoint_every=10_000)
    monkeypatch.setattr(tp.form, "config", lambda: cfg)  # tiny model: the test's only shortcut
    qtbot.mouseClick(tp.start_button, Qt.MouseButton.LeftButton)  # click 3: training
    qtbot.waitUntil(lambda: "loss_g" in tp.plot.series and len(tp.plot.values("loss_g")[0]) >= 3, timeout=WAIT)
    assert window.status_state.text().endswith("busy")
    qtbot.mouseClick(tp.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tp.state == "paused", timeout=WAIT)
    qtbot.mouseClick(tp.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tp.state == "running", timeout=WAIT)
    qtbot.waitUntil(lambda: tp.previews.has_image(), timeout=WAIT)
    qtbot.mouseClick(tp.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tp.state == "idle" and not tp.is_busy(), timeout=WAIT)
    assert (run / "checkpoints" / "last.pt").is_file()
    qtbot.waitUntil(lambda: window.status_state.text().endswith("ready"), timeout=5_000)

    window.open_run(run)  # File > Open run
    assert window.stack.currentWidget() is tp and tp.start_button.text() == "Resume training"
    gp = window.gallery_panel
    assert gp.run == run
    window.nav.setCurrentRow(2)
    generate(qtbot, gp, 2)
    assert gp.grid.count() == 2
    out = tmp_path / "export"
    export_through_dialog(qtbot, gp, out)
    wait_for_export(qtbot, gp)
    gp.summary_dialog.close()
    assert errors == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert [c["case_id"] for c in manifest["cases"]] == ["syn_0001", "syn_0002"]
    assert len(list((out / "dicom" / "syn_0001" / "MR_1").glob("*.dcm"))) == 95
    assert (out / "dicom" / "syn_0001" / "SEG_100" / "seg.dcm").is_file()
    assert (out / "nifti" / "syn_0002_label.nii.gz").is_file()
    assert any((out / "nnUNet_raw").iterdir())
    window.close()


def test_a_bad_dataset_folder_is_reported_in_the_panel(qtbot, tmp_path, errors):
    (tmp_path / "notes.txt").write_text("not a scan")
    (tmp_path / "broken.nii.gz").write_bytes(b"not a nifti")
    window = MainWindow()
    qtbot.addWidget(window)
    window.open_dataset(tmp_path)
    ds = window.dataset_panel
    qtbot.waitUntil(lambda: ds.result is not None and not ds.is_busy(), timeout=WAIT)
    assert ds.summary_label.text() == "0 cases ready, 1 skipped"
    assert ds.case_table.item(0, 5).text() == "error"
    assert "broken.nii.gz" in ds.case_table.item(0, 6).text()
    assert not ds.train_button.isEnabled()
    window.close()
