"""Label overlay colours and the legend: label value -> RGBA lookup table, label 0 transparent.

The lookup table is built once per volume (and when a label is hidden); colouring a slice is one
NumPy take over that slice.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem

from engine.data.labels import LabelTable
from engine.resources import color_for_label

_BINCOUNT_LIMIT = 1 << 16  # label values below this are counted with bincount (one pass, no sort)


def present_labels(label: np.ndarray) -> list[int]:
    """The non-zero label values present in ``label``, ascending. One pass over the volume."""
    if label.size == 0:
        return []
    top = int(label.max())
    if label.dtype.kind in "ui" and top < _BINCOUNT_LIMIT and int(label.min()) >= 0:
        counts = np.bincount(label.ravel(), minlength=top + 1)
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


def build_lut(values: list[int], table: LabelTable | None, hidden: set[int] | frozenset = frozenset()) -> np.ndarray:
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
        self.setVisible(bool(values))

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

    def sizeHint(self) -> QSize:
        width = max((self.fontMetrics().horizontalAdvance(n) for n in self.names()), default=60)
        return QSize(min(width + 56, 220), super().sizeHint().height())

    @Slot(QListWidgetItem)
    def _on_item_changed(self, _item: QListWidgetItem) -> None:
        self.visibilityChanged.emit()
