"""The Dataset panel as a clinician meets it (issue 14 §2, §3, §7, §8): a CT without a DICOM header
named from its intensities and opened with Slicer's CT window; the file's own window called "From
file"; skipped files and why, readable below the table; a two-row table leaving the height to the
viewer; label colours by name; T and the legend."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import SimpleITK as sitk
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from engine.data.labels import LabelTable
from gui.panels.dataset_panel import DatasetPanel
from gui.widgets import error_dialog
from gui.widgets import window_level as wl
from gui.widgets.slice_view import SliceView
from tests.engine.test_modality_inference import PIXEL, body_phantom

WAIT = 60_000
IVORY = (241, 214, 145)  # Slicer's GenericAnatomyColors "bone"


@pytest.fixture
def panel(qtbot, monkeypatch):
    monkeypatch.setattr(error_dialog, "show_error", lambda *a, **k: None)
    p = DatasetPanel()
    qtbot.addWidget(p)
    p.resize(1130, 690)  # the panel's share of a 1280 x 720 window
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.stop_and_wait()


def open_and_show(qtbot, panel, folder):
    panel.open_dataset(folder)
    qtbot.waitUntil(lambda: panel.result is not None and not panel.is_busy(), timeout=WAIT)
    qtbot.waitUntil(lambda: panel.viewer.has_volume(), timeout=WAIT)
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=WAIT)


def nameless_copy(tmp_path, real_data, name="case_001"):
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "labels").mkdir()
    shutil.copy(real_data / "head_ct" / "images" / "head_ct.nii.gz", data / "images" / f"{name}.nii.gz")
    shutil.copy(real_data / "head_ct" / "labels" / "head_ct.nii.gz", data / "labels" / f"{name}.nii.gz")
    shutil.copy(real_data / "head_ct" / "labels.json", data / "labels.json")
    return data


def test_a_nifti_head_ct_is_named_ct_and_opens_with_the_brain_window(qtbot, panel, tmp_path, real_data):
    open_and_show(qtbot, panel, nameless_copy(tmp_path, real_data))
    assert panel.case_table.item(0, 1).text() == "CT (from intensities)"
    assert panel.viewer.window() == (50.0, 100.0)  # Slicer's Brain preset, W 100 / L 50
    assert panel.viewer.toolbar.preset_combo.currentText() == "Brain"
    assert "CT (from intensities)" in panel.viewer.annotations.corner("top_right")
    info = panel.info.rows()
    assert info["Modality"] == "CT (from intensities)"
    assert info["Data type"] == "16-bit signed integer"
    assert info["Value range"] == "-1024 to 2986" and info["Units"].startswith("HU")
    # the file's header has no window: "From file" is offered greyed out, never "Custom"
    combo = panel.viewer.toolbar.preset_combo
    assert not combo.model().item(combo.findText(wl.FROM_FILE)).isEnabled()


def test_a_body_ct_opens_with_the_abdomen_window(qtbot, panel, tmp_path):
    data = tmp_path / "body"
    data.mkdir()
    image = sitk.GetImageFromArray(body_phantom(slices=12).astype(np.int16))
    image.SetSpacing((PIXEL, PIXEL, 3.0))
    sitk.WriteImage(image, str(data / "abdomen_case.nii.gz"))
    open_and_show(qtbot, panel, data)
    assert panel.viewer.window() == (40.0, 350.0)  # Slicer's Abdomen preset
    assert panel.viewer.toolbar.preset_combo.currentText() == "Abdomen"


def test_the_files_own_window_is_called_from_file(qtbot):
    view = SliceView()
    qtbot.addWidget(view)
    image = np.random.default_rng(0).normal(40, 200, (6, 32, 32)).astype(np.float32)
    view.set_volume(image, (1, 1, 1), window=(35.0, 380.0), modality="CT", body_region="head")
    combo = view.toolbar.preset_combo
    assert view.window() == (35.0, 380.0)  # the file's window wins over the opening preset
    assert (
        combo.currentText() == wl.FROM_FILE and combo.model().item(combo.findText(wl.FROM_FILE)).isEnabled()
    )
    view.apply_preset("Bone")
    assert combo.currentText() == "Bone"
    view.apply_preset(wl.FROM_FILE)
    assert view.window() == (35.0, 380.0)
    view.set_window(36.0, 380.0)  # dragged: a window of the user's own
    assert combo.currentIndex() == -1 and combo.placeholderText() == "Custom W/L"


def test_skipped_files_and_why_are_readable_below_the_table(qtbot, panel, tmp_path, real_data):
    data = nameless_copy(tmp_path, real_data)
    (data / "images" / "case_002.nii.gz").write_bytes(b"not a volume at all")
    (data / "labels" / "case_002.nii.gz").write_bytes(b"nor this")
    open_and_show(qtbot, panel, data)
    skipped = panel.skipped
    assert skipped.isVisible()
    lines = skipped.lines()
    assert any(line.startswith("✗ case_002:") and "case_002.nii.gz" in line for line in lines), lines
    table = panel.case_table
    below = skipped.mapTo(panel, skipped.rect().topLeft()).y()
    assert below >= table.mapTo(panel, table.rect().bottomLeft()).y()  # under the table, not a column
    assert not skipped.verticalScrollBar().isVisible()  # every line shows without scrolling
    assert skipped.width() >= table.width() - 4  # as wide as the table: nothing off the right edge


def test_a_two_row_table_leaves_the_height_to_the_viewer(qtbot, panel, tmp_path, real_data):
    data = nameless_copy(tmp_path, real_data)
    shutil.copy(data / "images" / "case_001.nii.gz", data / "images" / "case_002.nii.gz")
    shutil.copy(data / "labels" / "case_001.nii.gz", data / "labels" / "case_002.nii.gz")
    open_and_show(qtbot, panel, data)
    qtbot.wait(50)
    table = panel.case_table
    assert table.rowCount() == 2
    rows_height = table.horizontalHeader().height() + 2 * table.rowHeight(0)
    assert table.height() <= rows_height + 3 * table.rowHeight(0)  # no box of empty rows
    assert panel.viewer.height() >= 0.6 * panel.height()
    assert panel.viewer.graphics.width() >= 0.55 * panel.width()


def test_colours_come_from_the_names_and_t_toggles_from_anywhere(qtbot, panel, tmp_path, real_data):
    # bone is label 2 in the real dataset and label 7 in another: ivory in both
    assert LabelTable.from_names({2: "bone"}).entries[2].color == IVORY
    assert LabelTable.from_names({7: "Bone", 1: "liver"}).entries[7].color == IVORY
    open_and_show(qtbot, panel, nameless_copy(tmp_path, real_data))
    bone = panel.result.label_table.entries[2]
    assert bone.name == "bone" and bone.color == IVORY
    viewer = panel.viewer
    assert viewer.legend.isVisible() and "bone" in viewer.legend_names()
    panel.window().activateWindow()
    qtbot.waitActive(panel.window())
    panel.case_table.setFocus()  # the view itself has not been clicked
    assert not viewer.graphics.hasFocus()
    QTest.keyClick(panel.case_table, Qt.Key.Key_T)
    assert not viewer.overlay_visible() and not viewer.legend.isVisible()  # the legend follows
    QTest.keyClick(panel.case_table, Qt.Key.Key_T)
    assert viewer.overlay_visible() and viewer.legend.isVisible()
    panel.tags.filter.setFocus()  # typing a T into the tag filter stays a letter
    QTest.keyClick(panel.tags.filter, Qt.Key.Key_T)
    assert viewer.overlay_visible() and panel.tags.filter.text() == "t"
