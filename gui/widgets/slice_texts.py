"""The corner texts of a slice view, as Slicer writes them: the slice and its position (top left),
modality and voxel size (top right), the voxel under the cursor with its value and label (bottom
left). Plain functions of the view's state, so the widget only places them."""

from __future__ import annotations

import numpy as np

from engine.data.labels import LabelTable
from gui.widgets import window_level as wl
from gui.widgets.label_overlay import label_name
from gui.widgets.slice_geometry import SliceLayout, position_text


def slice_text(
    orientation: str,
    layout: SliceLayout,
    shape: tuple[int, int, int],
    index: int,
    spacing: tuple[float, float, float],
    origin: tuple[float, float, float] | None,
    direction: np.ndarray | None,
) -> str:
    """``Axial 12/40`` (1-based) and, with an origin, the slice position (``S 12.5 mm``)."""
    lines = [f"{orientation.capitalize()} {index + 1}/{shape[layout.slice_axis]}"]
    if origin is not None:
        lines.append(position_text(layout, shape, index, spacing, origin, direction))
    return "\n".join(lines)


def volume_text(modality: str | None, spacing: tuple[float, float, float]) -> str:
    sx, sy, sz = spacing
    info = f"{sx:.3g}×{sy:.3g}×{sz:.3g} mm"  # no spaces: whole in a pane half the 1280 px window
    return f"{modality}\n{info}" if modality else info


def probe_text(
    layout: SliceLayout,
    image: np.ndarray,
    label: np.ndarray | None,
    table: LabelTable | None,
    index: int,
    row: int,
    col: int,
    modality: str | None,
) -> str:
    """``(x, y, z)  value`` of the voxel at screen ``row, col`` of slice ``index`` (and its label
    name); empty outside the slice."""
    rows, cols = layout.shape_on_screen(image.shape)
    if not (0 <= row < rows and 0 <= col < cols):
        return ""
    z, y, x = layout.voxel_at(image.shape, index, row, col)
    unit = " HU" if (modality or "").upper() == "CT" else ""
    text = f"({x}, {y}, {z})  {wl.format_value(float(image[z, y, x]))}{unit}"
    if label is not None and label[z, y, x]:
        text += f"\n{label_name(table, int(label[z, y, x]))}"
    return text
