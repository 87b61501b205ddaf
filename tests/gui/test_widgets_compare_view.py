"""SideBySideView keeps a synthetic volume and its real source case in step."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.data.labels import LabelTable
from gui.widgets.compare_view import SideBySideView
from tests.gui.qt_input import wheel


@pytest.fixture
def compare(qtbot):
    view = SideBySideView("Synthetic #3", "Real source: case_007")
    qtbot.addWidget(view)
    view.resize(1100, 520)
    view.show()
    qtbot.waitExposed(view)
    rng = np.random.default_rng(1)
    label = np.zeros((12, 30, 40), np.uint8)
    label[:, 10:20, 10:20] = 1
    table = LabelTable.from_names({1: "liver"})
    common = dict(spacing=(0.8, 0.8, 2.5), label=label, label_table=table, modality="CT")
    view.set_volumes(
        dict(image=rng.normal(0, 50, label.shape).astype(np.float32), window=(40, 400), **common),
        dict(image=rng.normal(0, 50, label.shape).astype(np.float32), window=(40, 400), **common),
    )
    return view


def test_captions_and_one_shared_control_row(compare):
    assert compare.left_caption.text() == "Synthetic #3"
    assert compare.right_caption.text() == "Real source: case_007"
    compare.set_captions("A", "B")
    assert (compare.left_caption.text(), compare.right_caption.text()) == ("A", "B")
    assert compare.toolbar.isVisible() and not compare.right.toolbar.isVisible()


def test_slice_window_orientation_and_overlay_follow_both_ways(compare, qtbot):
    left, right = compare.left, compare.right
    assert left.slice_index == right.slice_index
    wheel(left.graphics.viewport(), +2)
    assert right.slice_index == left.slice_index == 12 // 2 + 2
    qtbot.keyClick(right.graphics, Qt.Key.Key_Home)
    assert left.slice_index == 0

    left.apply_preset("Bone")
    assert right.window() == (400.0, 1000.0)
    right.set_window(10, 20)
    assert left.window() == (10.0, 20.0)

    qtbot.mouseClick(compare.toolbar.orientation_buttons["coronal"], Qt.MouseButton.LeftButton)
    assert right.orientation() == left.orientation() == "coronal"
    assert right.slice_index == left.slice_index
    right.set_slice(3)
    assert left.slice_index == 3

    compare.toolbar.opacity_slider.setValue(20)
    assert right.overlay_opacity() == pytest.approx(0.2)
    qtbot.keyClick(right.graphics, Qt.Key.Key_T)
    assert not left.overlay_visible() and not right.overlay_visible()


def test_zoom_and_pan_are_shared(compare):
    left, right = compare.left, compare.right
    before = np.diff(right.view_box.viewRange()[0])[0]
    wheel(left.graphics.viewport(), +2, Qt.KeyboardModifier.ControlModifier)
    after = np.diff(right.view_box.viewRange()[0])[0]
    assert after < before * 0.8
    assert np.allclose(left.view_box.viewRange(), right.view_box.viewRange())
    right.fit_to_view()
    assert np.allclose(left.view_box.viewRange(), right.view_box.viewRange())
