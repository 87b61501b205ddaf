"""ThumbnailGrid: thumbnails from NumPy slices, ticking, select all, opening an item."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from engine.data.labels import LabelTable
from gui.widgets.thumbnails import ThumbnailGrid, render_thumbnail, rgb_to_pixmap


@pytest.fixture
def grid(qtbot):
    g = ThumbnailGrid(thumbnail_size=96)
    qtbot.addWidget(g)
    g.resize(600, 400)
    g.show()
    qtbot.waitExposed(g)
    rng = np.random.default_rng(0)
    for i in range(4):
        label = np.zeros((32, 32), np.uint8)
        label[8:16, 8:16] = 1
        g.add(f"s{i}", rng.normal(size=(32, 32)), label, f"synthetic {i}", f"Sample {i}")
    return g


def item_rect(grid: ThumbnailGrid, item_id: str):
    row = grid.ids().index(item_id)
    return grid.list.visualItemRect(grid.list.item(row))


def test_ticking_items_is_the_selection(grid, qtbot):
    assert grid.ids() == ["s0", "s1", "s2", "s3"] and grid.selected_ids() == []
    assert grid.summary.text() == "0 of 4 selected"
    with qtbot.waitSignal(grid.selectionChanged):
        grid.set_checked("s2", True)
    assert grid.selected_ids() == ["s2"] and grid.summary.text() == "1 of 4 selected"

    box = grid.delegate.check_rect(item_rect(grid, "s0"))
    with qtbot.waitSignal(grid.selectionChanged):
        qtbot.mouseClick(grid.list.viewport(), Qt.MouseButton.LeftButton, pos=box.center())
    assert grid.selected_ids() == ["s0", "s2"]

    with qtbot.waitSignals([grid.selectionChanged]):
        grid.select_all(True)
    assert grid.selected_ids() == ["s0", "s1", "s2", "s3"]
    with qtbot.assertNotEmitted(grid.selectionChanged):
        grid.select_all(True)  # nothing changed: no signal
    qtbot.mouseClick(grid.none_button, Qt.MouseButton.LeftButton)
    assert grid.selected_ids() == []


def test_space_ticks_the_current_item_and_double_click_opens_it(grid, qtbot):
    rect = item_rect(grid, "s1")
    body = QPoint(rect.center().x(), rect.bottom() - 8)  # the caption, away from the check box
    with qtbot.waitSignal(grid.currentChanged) as current:
        qtbot.mouseClick(grid.list.viewport(), Qt.MouseButton.LeftButton, pos=body)
    assert current.args == ["s1"] and grid.selected_ids() == []  # a click on the body does not tick
    qtbot.keyClick(grid.list, Qt.Key.Key_Space)
    assert grid.selected_ids() == ["s1"]
    with qtbot.waitSignal(grid.activated) as opened:
        qtbot.mouseDClick(grid.list.viewport(), Qt.MouseButton.LeftButton, pos=body)
    assert opened.args == ["s1"]
    with qtbot.waitSignal(grid.activated) as opened:
        qtbot.keyClick(grid.list, Qt.Key.Key_Return)
    assert opened.args == ["s1"]


def test_adding_an_id_again_replaces_it_and_clear_empties(grid):
    grid.add("s1", np.zeros((8, 8)), None, "renamed", "tip")
    assert grid.count() == 4 and grid.list.item(1).text() == "renamed"
    grid.set_checked("s3", True)
    grid.remove("s3")
    assert grid.ids() == ["s0", "s1", "s2"] and grid.selected_ids() == []
    grid.clear()
    assert grid.count() == 0 and grid.summary.text() == "No samples yet"


def test_thumbnail_pixels_window_and_label_colours():
    image = np.array([[0.0, 100.0], [50.0, 100.0]])
    label = np.array([[0, 1], [0, 0]], np.uint8)
    table = LabelTable.from_names({1: "liver"})
    table.add(1, "liver", (255, 0, 0))
    rgb = render_thumbnail(image, label, table, window=(50, 100))
    assert tuple(rgb[0, 0]) == (0, 0, 0) and tuple(rgb[1, 0]) == (127, 127, 127)
    assert rgb[0, 1, 0] == 255 and rgb[0, 1, 1] < 255  # red blended over white
    flat = render_thumbnail(np.full((4, 4), 3.0))  # constant: no division by zero
    assert flat.shape == (4, 4, 3)
    with pytest.raises(ValueError, match="2-D"):
        render_thumbnail(np.zeros((2, 2, 2)))


def test_pixel_aspect_keeps_the_physical_shape(qtbot):
    rgb = np.full((10, 30, 3), 255, np.uint8)  # 10 rows of 3 mm, 30 columns of 1 mm: square in mm
    image = rgb_to_pixmap(rgb, 90, pixel_aspect=3.0).toImage()
    rows = [y for y in range(90) if image.pixelColor(45, y).red() > 128]
    cols = [x for x in range(90) if image.pixelColor(x, 45).red() > 128]
    assert abs(len(rows) - len(cols)) <= 2 and len(cols) >= 88
