"""SliceView: slices by wheel and keys, zoom, window/level drag and presets, orientations and
aspect, the label overlay and its legend, degenerate volumes. Real events on the real viewport."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from engine.data.labels import LabelTable
from engine.resources import color_for_label
from gui.widgets import window_level as wl
from gui.widgets.slice_view import SliceView
from tests.gui.qt_input import double_click, drag, wheel

SPACING = (0.9, 0.9, 3.0)


def ct_volume(shape=(11, 40, 50), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(40, 30, shape).astype(np.float32)


@pytest.fixture
def view(qtbot):
    v = SliceView()
    qtbot.addWidget(v)
    v.resize(640, 520)
    v.show()
    qtbot.waitExposed(v)
    return v


def center_of_image(v: SliceView) -> QPoint:
    """A viewport point inside the displayed slice."""
    rect = v.slice_rect()
    scene = v.view_box.mapViewToScene(rect.center())
    return v.graphics.mapFromScene(scene)


# ------------------------------------------------------------------------------ slices and zoom
def test_wheel_steps_slices_and_ctrl_wheel_zooms_instead(view, qtbot):
    view.set_volume(ct_volume(), SPACING, window=(40, 80))
    start = view.slice_index
    assert start == 11 // 2
    viewport = view.graphics.viewport()
    with qtbot.waitSignal(view.sliceChanged) as blocker:
        wheel(viewport, +1)
    assert blocker.args == [start + 1]
    wheel(viewport, -2)
    assert view.slice_index == start - 1

    width_before = np.diff(view.view_box.viewRange()[0])[0]
    with qtbot.assertNotEmitted(view.sliceChanged):
        wheel(viewport, +1, Qt.KeyboardModifier.ControlModifier)
    width_after = np.diff(view.view_box.viewRange()[0])[0]
    assert view.slice_index == start - 1
    assert width_after < width_before * 0.9  # zoomed in


def test_keys_step_slices_and_clamp_at_both_ends(view, qtbot):
    view.set_volume(ct_volume((30, 16, 16)), SPACING)
    view.set_slice(5)
    target = view.graphics  # the focused view: keys go through its event filter
    qtbot.keyClick(target, Qt.Key.Key_Up)
    assert view.slice_index == 6
    qtbot.keyClick(target, Qt.Key.Key_Left)
    qtbot.keyClick(target, Qt.Key.Key_Down)
    assert view.slice_index == 4
    qtbot.keyClick(target, Qt.Key.Key_Right)
    assert view.slice_index == 5
    qtbot.keyClick(target, Qt.Key.Key_PageUp)
    assert view.slice_index == 15
    qtbot.keyClick(target, Qt.Key.Key_PageDown)
    qtbot.keyClick(target, Qt.Key.Key_PageDown)
    assert view.slice_index == 0  # clamped, not -5
    qtbot.keyClick(target, Qt.Key.Key_Down)
    assert view.slice_index == 0
    qtbot.keyClick(view, Qt.Key.Key_End)  # the widget itself handles the keys too
    assert view.slice_index == 29
    qtbot.keyClick(target, Qt.Key.Key_Up)
    qtbot.keyClick(target, Qt.Key.Key_PageUp)
    assert view.slice_index == 29
    qtbot.keyClick(target, Qt.Key.Key_Home)
    assert view.slice_index == 0
    assert view.slice_slider.value() == 0


def test_slider_and_corner_text_follow_the_slice(view):
    view.set_volume(ct_volume(), SPACING, origin=(-10.0, -20.0, -30.0))
    view.set_slice(7)
    assert view.slice_slider.value() == 7
    top_left = view.annotations.corner("top_left")
    assert top_left.splitlines()[0] == "Axial 8/11"
    assert top_left.splitlines()[1] == f"S {-30.0 + 7 * 3.0:.1f} mm"
    view.slice_slider.setValue(2)
    assert view.slice_index == 2


# ------------------------------------------------------------------------------ window / level
def test_left_drag_adjusts_window_with_a_live_readout(view, qtbot):
    view.set_volume(ct_volume(), SPACING, window=(40, 80), modality="CT")
    assert view.window() == (40.0, 80.0)
    assert view.annotations.corner("bottom_right") == "W 80 / L 40"
    viewport = view.graphics.viewport()
    p = center_of_image(view)

    with qtbot.waitSignal(view.windowChanged):
        drag(viewport, p, p + QPoint(120, 0))  # right: wider window, same level
    center, width = view.window()
    assert width > 80 and center == pytest.approx(40.0)
    assert view.annotations.corner("bottom_right") == wl.readout(center, width)
    assert view.toolbar.preset_combo.currentIndex() == -1  # "Custom W/L"

    drag(viewport, p, p + QPoint(0, -80))  # up: higher level (Slicer)
    new_center, new_width = view.window()
    assert new_center > center and new_width == pytest.approx(width)
    assert view.annotations.corner("bottom_right") == wl.readout(new_center, new_width)


def test_r_key_and_double_click_reset_the_window(view, qtbot):
    view.set_volume(ct_volume(), SPACING, window=(40, 80))
    view.set_window(500, 2000)
    qtbot.keyClick(view.graphics, Qt.Key.Key_R)
    assert view.window() == (40.0, 80.0)
    view.set_window(500, 2000)
    double_click(view.graphics.viewport(), center_of_image(view), Qt.KeyboardModifier.ControlModifier)
    assert view.window() == (40.0, 80.0)

    image = ct_volume()
    view.set_volume(image, SPACING)  # no DICOM window: the 0.1-99.9 percentile range
    lo, hi = np.percentile(image, wl.AUTO_PERCENTILES)
    assert view.window() == pytest.approx(((lo + hi) / 2, hi - lo))
    view.set_window(0, 1)
    qtbot.keyClick(view.graphics, Qt.Key.Key_R)
    assert view.window() == pytest.approx(((lo + hi) / 2, hi - lo))


def test_presets_from_the_json_file_apply(view, qtbot):
    presets = wl.load_presets()
    assert {n: (p.width, p.level) for n, p in presets.items()} == {
        "Brain": (100, 50),
        "Abdomen": (350, 40),
        "Lung": (1400, -500),
        "Bone": (1000, 400),
        "Air": (1000, -426),
    }
    view.set_volume(ct_volume(), SPACING, modality="CT")
    view.apply_preset("Lung")
    assert view.window() == (-500.0, 1400.0)
    assert view.toolbar.preset_combo.currentText() == "Lung"
    assert view.annotations.corner("bottom_right") == "W 1400 / L -500"

    combo = view.toolbar.preset_combo
    with qtbot.waitSignal(view.windowChanged) as blocker:
        combo.activated.emit(combo.findText("Bone"))  # what a user's pick emits
    assert blocker.args == [400.0, 1000.0]
    view.apply_preset(wl.AUTO_PRESET)
    assert combo.currentText() == wl.AUTO_PRESET
    with pytest.raises(KeyError, match="Lung"):
        view.apply_preset("Liver")


def test_ct_presets_are_not_offered_for_mr(view):
    view.set_volume(ct_volume(), SPACING, modality="MR")
    model = view.toolbar.preset_combo.model()
    enabled = {model.item(i).text(): model.item(i).isEnabled() for i in range(model.rowCount())}
    assert enabled[wl.AUTO_PRESET] and not enabled["Brain"] and not enabled["Lung"]


# ------------------------------------------------------------------------------ orientation
def test_orientation_changes_the_displayed_shape_and_pixel_aspect(view, qtbot):
    image = ct_volume((10, 20, 30))  # z, y, x
    view.set_volume(image, (0.5, 1.0, 3.0))  # sx, sy, sz in mm
    expected = {  # (rows, cols), rect width x height in mm
        "axial": ((20, 30), (30 * 0.5, 20 * 1.0)),
        "coronal": ((10, 30), (30 * 0.5, 10 * 3.0)),
        "sagittal": ((10, 20), (20 * 1.0, 10 * 3.0)),
    }
    for name, ((rows, cols), (w_mm, h_mm)) in expected.items():
        with qtbot.waitSignal(view.orientationChanged, timeout=500, raising=False):
            qtbot.mouseClick(view.toolbar.orientation_buttons[name], Qt.MouseButton.LeftButton)
        assert view.orientation() == name
        assert view.image_item.image.shape == (rows, cols)
        assert view.displayed_shape() == (rows, cols)
        item_rect = view.image_item.mapRectToParent(view.image_item.boundingRect())
        assert (item_rect.width(), item_rect.height()) == pytest.approx((w_mm, h_mm))
        on_screen = view.image_item.sceneBoundingRect()  # square screen pixels: physical aspect kept
        assert on_screen.height() / on_screen.width() == pytest.approx(h_mm / w_mm, rel=1e-3)
        assert view.slice_count == image.shape[{"axial": 0, "coronal": 1, "sagittal": 2}[name]]


def test_radiological_layout_and_edge_letters(view):
    image = np.zeros((6, 8, 10), np.float32)
    image[5, 0, 0] = 1000  # superior, anterior, patient right (LPS: +x left, +y posterior, +z superior)
    view.set_volume(image, (1, 1, 1))
    view.set_slice(5)
    assert view.image_item.image[0, 0] == 1000  # axial: anterior at the top, patient right on the left
    assert [view.annotations.edges[e].text() for e in ("top", "bottom", "left", "right")] == [
        "A",
        "P",
        "R",
        "L",
    ]
    view.set_orientation("coronal")
    view.set_slice(0)
    assert view.image_item.image[0, 0] == 1000  # superior at the top, right on the left
    assert [view.annotations.edges[e].text() for e in ("top", "bottom", "left", "right")] == [
        "S",
        "I",
        "R",
        "L",
    ]
    view.set_orientation("sagittal")
    view.set_slice(0)
    assert view.image_item.image[0, 0] == 1000  # superior at the top, anterior on the left (Slicer)
    assert [view.annotations.edges[e].text() for e in ("top", "bottom", "left", "right")] == [
        "S",
        "I",
        "A",
        "P",
    ]


# ------------------------------------------------------------------------------ label overlay
def labelled_case():
    image = ct_volume((5, 12, 14))
    label = np.zeros(image.shape, np.uint8)
    label[2, 3, 4] = 1
    label[2, 6, 7] = 3
    label[4, 1, 1] = 7  # not in the table: default colour
    table = LabelTable.from_names({1: "liver", 2: "spleen", 3: "tumour"})
    table.add(3, "tumour", (255, 0, 128))
    return image, label, table


def test_overlay_colours_match_the_table_and_background_is_transparent(view):
    image, label, table = labelled_case()
    view.set_volume(image, SPACING, label, table)
    view.set_slice(2)
    rgba = view.overlay_item.image
    assert rgba.shape == (12, 14, 4) and rgba.dtype == np.uint8
    assert tuple(rgba[3, 4]) == (*table.entries[1].color, 255)
    assert tuple(rgba[6, 7]) == (255, 0, 128, 255)
    assert rgba[0, 0, 3] == 0  # label 0
    assert view.overlay_item.zValue() > view.image_item.zValue()
    view.set_slice(4)
    assert tuple(view.overlay_item.image[1, 1]) == (*color_for_label(7), 255)


def test_opacity_slider_and_t_key_control_the_overlay(view, qtbot):
    image, label, table = labelled_case()
    view.set_volume(image, SPACING, label, table)
    assert view.overlay_opacity() == 0.5
    assert view.overlay_item.opacity() == pytest.approx(0.5)
    with qtbot.waitSignal(view.overlayOpacityChanged) as blocker:
        view.toolbar.opacity_slider.setValue(80)
    assert blocker.args == [pytest.approx(0.8)]
    assert view.overlay_item.opacity() == pytest.approx(0.8)

    assert "(T)" in view.toolbar.overlay_button.toolTip()
    qtbot.keyClick(view.graphics, Qt.Key.Key_T)
    assert not view.overlay_item.isVisible()
    assert not view.toolbar.overlay_button.isChecked()
    qtbot.keyClick(view.graphics, Qt.Key.Key_T)
    assert view.overlay_item.isVisible()
    qtbot.mouseClick(view.toolbar.overlay_button, Qt.MouseButton.LeftButton)
    assert not view.overlay_visible() and not view.overlay_item.isVisible()


def test_legend_lists_only_present_labels_and_can_hide_one(view):
    image, label, table = labelled_case()
    view.set_volume(image, SPACING, label, table)
    assert view.legend.isVisibleTo(view)
    assert view.legend_names() == ["liver", "tumour", "label 7"]  # no spleen, no background
    view.set_slice(2)
    tumour = view.legend.item(1)
    tumour.setCheckState(Qt.CheckState.Unchecked)
    assert view.overlay_item.image[6, 7, 3] == 0
    assert view.overlay_item.image[3, 4, 3] == 255


# ------------------------------------------------------------------------------ degenerate input
def test_single_slice_constant_volume_without_labels(view, qtbot):
    view.set_volume(np.full((1, 9, 7), 5.0, np.float32), (1, 1, 1))
    assert view.slice_count == 1 and view.slice_index == 0
    wheel(view.graphics.viewport(), +3)
    qtbot.keyClick(view.graphics, Qt.Key.Key_PageUp)
    assert view.slice_index == 0
    center, width = view.window()
    assert width > 0 and np.isfinite(center)
    assert not view.legend.isVisibleTo(view)
    assert not view.toolbar.overlay_button.isEnabled()
    assert view.overlay_rgba() is None
    qtbot.keyClick(view.graphics, Qt.Key.Key_T)  # toggling an absent overlay is harmless
    drag(view.graphics.viewport(), center_of_image(view), center_of_image(view) + QPoint(40, 40))
    assert view.window()[1] > 0
    view.set_orientation("coronal")
    assert view.image_item.image.shape == (1, 7)
    view.set_orientation("axial")
    view.set_volume(np.zeros((9, 7), np.int16))  # a 2-D image is one slice
    assert view.slice_count == 1 and view.image_item.image.shape == (9, 7)


def test_empty_view_and_clear(view, qtbot):
    assert not view.has_volume()
    assert view.annotations.message.text() == "No volume loaded"
    assert not view.toolbar.isEnabled()
    wheel(view.graphics.viewport(), +1)
    qtbot.keyClick(view.graphics, Qt.Key.Key_Up)
    view.set_volume(ct_volume(), SPACING)
    assert view.toolbar.isEnabled() and not view.annotations.message.isVisible()
    view.clear()
    assert view.image_item.image is None and not view.has_volume()


def test_bad_input_is_refused_with_a_clear_message(view):
    image = ct_volume()
    with pytest.raises(ValueError, match="shape"):
        view.set_volume(image, SPACING, np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="negative"):
        view.set_volume(image, SPACING, -np.ones(image.shape, np.int16))
    with pytest.raises(ValueError, match="Spacing"):
        view.set_volume(image, (1, 0, 1))
    with pytest.raises(ValueError, match="3-D"):
        view.set_volume(np.zeros((2, 2, 2, 2)))


def test_each_slice_step_reads_one_slice_not_the_volume(view):
    image = np.zeros((64, 512, 512), np.float32)  # 64 MiB
    label = np.zeros(image.shape, np.uint8)
    label[:, 100:200, 100:200] = 1
    view.set_volume(image, (0.7, 0.7, 2.5), label)
    for orientation in ("axial", "coronal"):
        view.set_orientation(orientation)
        tracemalloc.start()
        for _ in range(10):
            view.set_slice(view.slice_index + 1 if view.slice_index < view.slice_count - 1 else 0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 16 * 2**20, f"{orientation}: {peak / 2**20:.1f} MiB for 10 slice steps"


def test_hover_shows_voxel_value_and_label(view, qtbot):
    image, label, table = labelled_case()
    view.set_volume(image, SPACING, label, table, modality="CT")
    view.set_slice(2)
    # The centre of the voxel on screen row 3, column 4 (label 1, "liver"); pixels are 0.9 mm.
    centre_mm = QPointF((4 + 0.5) * SPACING[0], (3 + 0.5) * SPACING[1])
    point = view.graphics.mapFromScene(view.view_box.mapViewToScene(centre_mm))
    qtbot.wait(20)  # pyqtgraph ignores moves closer than 10 ms to the previous one
    qtbot.mouseMove(view.graphics.viewport(), point)
    qtbot.waitUntil(lambda: view.annotations.corner("bottom_left") != "")
    value = wl.format_value(float(image[2, 3, 4]))
    assert view.annotations.corner("bottom_left") == f"(4, 3, 2)  {value} HU\nliver"


def test_next_volume_on_the_same_grid_keeps_slice_and_zoom(view):
    view.set_volume(ct_volume(), SPACING)
    view.set_slice(9)
    view.view_box.scaleBy((0.5, 0.5))
    zoomed = view.view_box.viewRange()
    view.set_volume(ct_volume(seed=2), SPACING)
    assert view.slice_index == 9 and np.allclose(view.view_box.viewRange(), zoomed)
    view.set_volume(ct_volume(seed=2), (1.0, 1.0, 1.0))  # another grid: back to the middle, refitted
    assert view.slice_index == 11 // 2 and not np.allclose(view.view_box.viewRange(), zoomed)
