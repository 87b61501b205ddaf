"""Label overlay colours and the legend: label value -> RGBA lookup table, label 0 transparent.

The lookup table is built once per volume (and when a label is hidden); colouring a slice is one
NumPy take over that slice.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem

from engine.data.labels import LabelTable
from engine.resources import color_for_label

_BINCOUNT_LIMIT = 1 << 16  # label values below this are counted with bincount (one pass, no sort)
_CHUNK = 1 << 22


def present_labels(label: np.ndarray) -> list[int]:
    """The non-zero label values present in ``label``, ascending.

    Counted slab by slab (bincount over ~4 M voxels at a time): one pass, no sort, and no
    int64 copy of the whole volume, which for a 512^3 map would be a gigabyte.
    """
    if label.size == 0:
        return []
    top = int(label.max())
    if label.dtype.kind in "ui" and top < _BINCOUNT_LIMIT and int(label.min()) >= 0:
        flat = label.reshape(-1)  # a view for contiguous maps
        counts = np.zeros(top + 1, dtype=np.int64)
        for start in range(0, flat.size, _CHUNK):
            counts += np.bincount(flat[start : start + _CHUNK], minlength=top + 1)
        values = np.flatnonzero(counts)
    else:
        values = np.unique(label)
    return [int(v) for v in values if v != 0]


def label_name(table: LabelTable | None, value: int) -> str:
    return table.name(value) if table is not None else f"label {value}"


def label_color(table: LabelTable | None, value: int) -> tuple[int, int, int]:
    if table is not None and value in table.entries:
        return tuple(table.entries[value].color)  # type: ignore[return-value]
    return color_for_label(value)


def build_lut(
    values: list[int], table: LabelTable | None, hidden: set[int] | frozenset = frozenset()
) -> np.ndarray:
    """(max value + 1, 4) uint8 RGBA: opaque colours for ``values``, transparent elsewhere.

    Opacity is applied to the whole overlay item, so the table itself is fully opaque.
    """
    top = max(values, default=0)
    lut = np.zeros((top + 1, 4), dtype=np.uint8)
    for v in values:
        if v != 0 and v not in hidden:
            lut[v, :3] = label_color(table, v)
            lut[v, 3] = 255
    return lut


def colorize(label_slice: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """RGBA (rows, cols, 4) uint8 for one label slice. Values past the table are transparent."""
    idx = np.asarray(label_slice)
    if idx.dtype.kind not in "ui":
        idx = idx.astype(np.int64)
    out_of_table = (idx < 0) | (idx >= len(lut))
    rgba = np.take(lut, np.clip(idx, 0, len(lut) - 1), axis=0)
    if out_of_table.any():
        rgba[out_of_table] = 0
    return rgba


def swatch_icon(color: tuple[int, int, int], size: int = 12) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(QColor(*color))
    return QIcon(pix)


class LabelLegend(QListWidget):
    """Label names with colour swatches; unticking a label hides it in the overlay."""

    visibilityChanged = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setIconSize(QSize(12, 12))
        self.setUniformItemSizes(True)
        self.setToolTip("Labels present in this volume. Untick a label to hide it.")
        self.itemChanged.connect(self._on_item_changed)

    def set_labels(self, values: list[int], table: LabelTable | None) -> None:
        self.blockSignals(True)
        self.clear()
        for v in values:
            item = QListWidgetItem(swatch_icon(label_color(table, v)), label_name(table, v))
            item.setData(Qt.ItemDataRole.UserRole, int(v))
            item.setToolTip(f"{label_name(table, v)} (label value {v})")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.addItem(item)
        self.blockSignals(False)
        self.setMaximumHeight(self.content_height())  # no empty box below the last label
        self.updateGeometry()  # shown or hidden by the slice view (with the overlay)

    def names(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]

    def values(self) -> list[int]:
        return [int(self.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.count())]

    def hidden_values(self) -> set[int]:
        return {
            int(self.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.count())
            if self.item(i).checkState() != Qt.CheckState.Checked
        }

    def content_height(self) -> int:
        rows = self.count()
        row = self.sizeHintForRow(0) if rows else 0
        return rows * row + 2 * self.frameWidth() + 4

    def sizeHint(self) -> QSize:
        width = max((self.fontMetrics().horizontalAdvance(n) for n in self.names()), default=60)
        return QSize(min(width + 56, 220), self.content_height())

    @Slot(QListWidgetItem)
    def _on_item_changed(self, _item: QListWidgetItem) -> None:
        self.visibilityChanged.emit()


class LabelLayer:
    """The overlay drawn above the grey image: an RGBA ImageItem coloured from the label table,
    with the legend that lists (and can hide) the labels present in the volume."""

    def __init__(self, legend: LabelLegend, opacity: float = 0.5) -> None:
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(10)
        self.item.setOpacity(opacity)
        self.legend = legend
        self.table: LabelTable | None = None
        self.values: list[int] = []
        self.lut = build_lut([], None)

    def set_labels(self, label: np.ndarray | None, table: LabelTable | None) -> None:
        """Read which labels the volume holds (one pass over it) and list them in the legend."""
        self.table = table
        self.values = present_labels(label) if label is not None else []
        self.legend.set_labels(self.values, table)
        self.refresh_colors()

    def refresh_colors(self) -> None:
        """Rebuild the colour table (after a label was hidden or shown in the legend)."""
        self.lut = build_lut(self.values, self.table, self.legend.hidden_values())

    def show_slice(self, label_slice: np.ndarray | None, rect: QRectF, visible: bool) -> None:
        if label_slice is None:
            self.item.clear()
            return
        self.item.setImage(colorize(label_slice, self.lut), autoLevels=False, levels=None)
        self.item.setRect(rect)
        self.item.setVisible(visible)
