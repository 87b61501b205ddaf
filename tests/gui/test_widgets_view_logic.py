"""The pure rules under the slice view: screen layout from the direction matrix, slice position,
window/level maths and presets, label colour tables. No widgets."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from engine.data.labels import LabelTable
from gui.widgets import window_level as wl
from gui.widgets.label_overlay import build_lut, colorize, present_labels
from gui.widgets.slice_geometry import layout_for, slice_position_mm


def letters(layout):
    return "".join(layout.letters[e] for e in ("top", "bottom", "left", "right"))


def test_identity_direction_gives_the_radiological_layout():
    assert letters(layout_for("axial", (1, 1, 1))) == "APRL"
    assert letters(layout_for("coronal", (1, 1, 1))) == "SIRL"
    assert letters(layout_for("sagittal", (1, 1, 1))) == "SIAP"  # Slicer: anterior on the left


def test_a_ras_stored_volume_is_flipped_back_to_the_same_picture():
    # NIfTI in RAS read by SimpleITK: direction diag(-1, -1, 1). Index x grows toward patient right.
    volume = np.zeros((3, 4, 5), np.int16)
    volume[1, 0, 0] = 1  # index (x=0, y=0): patient left, posterior in RAS storage
    ras = np.diag([-1.0, -1.0, 1.0])
    axial = layout_for("axial", (1, 1, 1), ras)
    shown = axial.extract(volume, 1)
    assert shown[-1, -1] == 1  # bottom (posterior) right (patient left)
    assert letters(axial) == "APRL"
    assert axial.voxel_at(volume.shape, 1, 3, 4) == (1, 0, 0)


def test_permuted_axes_pick_the_right_array_axis_and_spacing():
    # Index axes stored as (x: superior, y: left, z: posterior): a sagittal-acquired series.
    direction = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], float)
    layout = layout_for("axial", (2.0, 0.5, 0.7), direction)
    assert layout.slice_axis == 2  # array x (index i) runs superior
    assert (layout.row_spacing, layout.col_spacing, layout.slice_spacing) == (0.7, 0.5, 2.0)


def test_extract_is_one_contiguous_slice():
    volume = np.arange(4 * 5 * 6).reshape(4, 5, 6)
    for name in ("axial", "coronal", "sagittal"):
        layout = layout_for(name, (1, 1, 1))
        plane = layout.extract(volume, 2)
        assert plane.flags.c_contiguous
        assert plane.shape == layout.shape_on_screen(volume.shape)
        for r, c in ((0, 0), (plane.shape[0] - 1, 1)):
            assert plane[r, c] == volume[layout.voxel_at(volume.shape, 2, r, c)]


def test_slice_position_is_reported_in_ras():
    layout = layout_for("coronal", (1.0, 2.0, 3.0))
    # LPS y = origin 10 + 4 * 2 mm = 18 posterior -> A -18
    assert slice_position_mm(layout, (5, 6, 7), 4, (1.0, 2.0, 3.0), (0.0, 10.0, 0.0), None) == -18.0


def test_auto_window_and_degenerate_images():
    image = np.linspace(-1000, 1000, 100_001, dtype=np.float32)
    center, width = wl.auto_window(image)
    lo, hi = np.percentile(image, wl.AUTO_PERCENTILES)
    assert (center, width) == pytest.approx(((lo + hi) / 2, hi - lo))
    assert wl.auto_window(np.full(10, 7.0))[1] > 0
    assert wl.auto_window(np.zeros(10)) == (0.0, 1.0)
    assert wl.auto_window(np.full(10, np.nan)) == (0.5, 1.0)
    big = np.zeros((200, 200, 200), np.int16)  # sampled, still right
    assert wl.auto_window(big)[1] > 0


def test_drag_directions_and_limits():
    center, width = wl.dragged_window(40, 400, dx=100, dy=0, value_range=(-1000, 1000), view_pixels=500)
    assert (center, width) == (40, 400 + 100 * 2000 / 500)
    center, width = wl.dragged_window(40, 400, dx=0, dy=-50, value_range=(-1000, 1000), view_pixels=500)
    assert center == 40 + 50 * 4 and width == 400  # up raises the level
    _, width = wl.dragged_window(40, 400, dx=-10_000, dy=0, value_range=(-1000, 1000))
    assert width > 0
    center, _ = wl.dragged_window(40, 400, dx=0, dy=-10_000, value_range=(-1000, 1000))
    assert center == 1000 + 400 / 2


def test_readout_format():
    assert wl.readout(40, 400) == "W 400 / L 40"
    assert wl.readout(-0.2, 621.4) == "W 621 / L 0"
    assert wl.readout(0.25, 0.5) == "W 0.5 / L 0.25"


def test_presets_file_is_editable_and_broken_entries_are_skipped(tmp_path, caplog):
    path = tmp_path / "presets.json"
    path.write_text(
        json.dumps({"Liver": {"width": 150, "level": 90}, "Bad": {"width": -1, "level": 0}, "Odd": 3}),
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING):
        presets = wl.load_presets(path)
    assert list(presets) == ["Liver"] and presets["Liver"].applies_to("MR")
    assert "Bad" in caplog.text and "Odd" in caplog.text
    path.write_text("{not json", encoding="utf-8")
    assert wl.load_presets(path) == {}
    assert wl.matching_preset((90, 150), presets, None) == "Liver"
    assert wl.matching_preset((1, 2), presets, (1, 2)) == wl.AUTO_PRESET
    assert wl.matching_preset((1, 3), presets, (1, 2)) is None


def test_label_lookup_table_and_present_labels():
    label = np.array([[0, 2, 2], [5, 0, 300]], np.uint16)
    assert present_labels(label) == [2, 5, 300]
    table = LabelTable.from_names({2: "kidney"})
    lut = build_lut(present_labels(label), table, hidden={5})
    rgba = colorize(label, lut)
    assert tuple(rgba[0, 1]) == (*table.entries[2].color, 255)
    assert rgba[0, 0, 3] == 0 and rgba[1, 0, 3] == 0  # background and hidden label
    assert rgba[1, 2, 3] == 255
    assert tuple(colorize(np.array([[999]]), lut)[0, 0]) == (0, 0, 0, 0)  # past the table
    assert present_labels(np.array([1, 70_000], np.int64)) == [1, 70_000]
