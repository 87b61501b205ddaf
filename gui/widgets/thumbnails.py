"""ThumbnailGrid: a grid of slice thumbnails (grey image + label colours), each with a caption and
a check box. Ticked items are the "selected" ones (e.g. what to export): click the box or press
Space. Double-click or Enter opens one (``activated``); the current item (single click, arrow
keys) is ``currentChanged``.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.data.labels import LabelTable
from gui.widgets.label_overlay import build_lut, colorize, present_labels
from gui.widgets.thumbnail_delegate import ThumbnailDelegate

_ID_ROLE = Qt.ItemDataRole.UserRole
OVERLAY_ALPHA = 0.45


def render_thumbnail(
    image2d: np.ndarray,
    label2d: np.ndarray | None = None,
    label_table: LabelTable | None = None,
    window: tuple[float, float] | None = None,
) -> np.ndarray:
    """(rows, cols, 3) uint8 RGB: the image windowed (center, width) or stretched to its 0.5-99.5
    percentiles, with label colours blended in (label 0 left grey)."""
    img = np.asarray(image2d, dtype=np.float32)
    if img.ndim != 2 or img.size == 0:
        raise ValueError(f"A thumbnail is made from a non-empty 2-D array; got shape {img.shape}.")
    if window is not None:
        lo, hi = window[0] - window[1] / 2.0, window[0] + window[1] / 2.0
    else:
        finite = img[np.isfinite(img)]
        lo, hi = np.percentile(finite, (0.5, 99.5)) if finite.size else (0.0, 1.0)
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    grey = np.clip((np.nan_to_num(img, nan=lo) - lo) * scale, 0, 255).astype(np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    if label2d is not None:
        label2d = np.asarray(label2d)
        if label2d.shape != img.shape:
            raise ValueError(f"The label slice's shape {label2d.shape} differs from the image's {img.shape}.")
        rgba = colorize(label2d, build_lut(present_labels(label2d), label_table))
        alpha = (rgba[:, :, 3:4] / 255.0) * OVERLAY_ALPHA
        rgb = (rgb * (1 - alpha) + rgba[:, :, :3] * alpha).astype(np.uint8)
    return np.ascontiguousarray(rgb)


def rgb_to_pixmap(rgb: np.ndarray, size: int, pixel_aspect: float = 1.0) -> QPixmap:
    """A ``size`` x ``size`` pixmap: the image scaled to fit (rows stretched by ``pixel_aspect`` =
    row spacing / column spacing), centred on black."""
    h, w = rgb.shape[:2]
    qimage = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # copy: own the pixels
    target_h, target_w = h * pixel_aspect, float(w)
    factor = size / max(target_h, target_w)
    scaled = qimage.scaled(
        max(1, round(target_w * factor)),
        max(1, round(target_h * factor)),
        Qt.AspectRatioMode.IgnoreAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    canvas = QPixmap(size, size)
    canvas.fill(QColor("black"))
    painter = QPainter(canvas)
    painter.drawImage((size - scaled.width()) // 2, (size - scaled.height()) // 2, scaled)
    painter.end()
    return canvas


class ThumbnailGrid(QWidget):
    activated = Signal(str)  # double-click or Enter on an item: open it
    currentChanged = Signal(str)  # the highlighted item changed (single click, arrow keys)
    selectionChanged = Signal()  # the ticked set changed

    def __init__(self, parent: QWidget | None = None, thumbnail_size: int = 128) -> None:
        super().__init__(parent)
        self.thumbnail_size = int(thumbnail_size)
        self.list = QListWidget(self)
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setWrapping(True)
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(True)
        self.list.setSpacing(4)
        self.list.setIconSize(QSize(self.thumbnail_size, self.thumbnail_size))
        self.delegate = ThumbnailDelegate(self.thumbnail_size, self.list)
        self.list.setItemDelegate(self.delegate)
        self.list.setMouseTracking(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.itemActivated.connect(self._on_item_activated)
        self.list.currentItemChanged.connect(self._on_current_item_changed)
        self.list.itemChanged.connect(self._on_item_changed)

        self.summary = QLabel(self)
        self.all_button = QPushButton("Select all", self)
        self.all_button.clicked.connect(self._on_select_all_clicked)
        self.none_button = QPushButton("Select none", self)
        self.none_button.clicked.connect(self._on_select_none_clicked)
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.all_button)
        bar.addWidget(self.none_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        bar.setContentsMargins(6, 4, 4, 0)
        layout.addLayout(bar)
        layout.addWidget(self.list, 1)
        self._items: dict[str, QListWidgetItem] = {}
        self._update_summary()

    def add(
        self,
        item_id: str,
        image2d: np.ndarray,
        label2d: np.ndarray | None = None,
        caption: str = "",
        tooltip: str = "",
        *,
        label_table: LabelTable | None = None,
        window: tuple[float, float] | None = None,
        pixel_aspect: float = 1.0,
        checked: bool = False,
    ) -> None:
        """Add (or replace) the thumbnail ``item_id``. ``pixel_aspect`` = row spacing / column spacing."""
        rgb = render_thumbnail(image2d, label2d, label_table, window)
        icon = QIcon(rgb_to_pixmap(rgb, self.thumbnail_size, pixel_aspect))
        self.list.blockSignals(True)
        item = self._items.get(item_id)
        if item is None:
            item = QListWidgetItem()
            item.setData(_ID_ROLE, item_id)
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable
            )
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.list.addItem(item)
            self._items[item_id] = item
        item.setIcon(icon)
        item.setText(caption or item_id)
        item.setToolTip(tooltip or caption or item_id)
        self.list.blockSignals(False)
        self._update_summary()

    def remove(self, item_id: str) -> None:
        item = self._items.pop(item_id, None)
        if item is not None:
            was_checked = item.checkState() == Qt.CheckState.Checked
            self.list.takeItem(self.list.row(item))
            self._update_summary()
            if was_checked:
                self.selectionChanged.emit()

    def clear(self) -> None:
        had_selection = bool(self.selected_ids())
        self.list.clear()
        self._items.clear()
        self._update_summary()
        if had_selection:
            self.selectionChanged.emit()

    def ids(self) -> list[str]:
        return [self.list.item(i).data(_ID_ROLE) for i in range(self.list.count())]

    def count(self) -> int:
        return self.list.count()

    def selected_ids(self) -> list[str]:
        """Ticked items, in grid order."""
        return [
            self.list.item(i).data(_ID_ROLE)
            for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]

    def is_checked(self, item_id: str) -> bool:
        return self._items[item_id].checkState() == Qt.CheckState.Checked

    def set_checked(self, item_id: str, checked: bool) -> None:
        self._items[item_id].setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def select_all(self, selected: bool = True) -> None:
        """Tick (or untick) every item; ``selectionChanged`` is emitted once if anything changed."""
        state = Qt.CheckState.Checked if selected else Qt.CheckState.Unchecked
        changed = False
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() != state:
                item.setCheckState(state)
                changed = True
        self.list.blockSignals(False)
        self._update_summary()
        if changed:
            self.selectionChanged.emit()

    def current_id(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else item.data(_ID_ROLE)

    def _update_summary(self) -> None:
        n = self.list.count()
        self.summary.setText(f"{len(self.selected_ids())} of {n} selected" if n else "No samples yet")
        self.all_button.setEnabled(n > 0)
        self.none_button.setEnabled(n > 0)

    @Slot(QListWidgetItem)
    def _on_item_activated(self, item: QListWidgetItem) -> None:
        self.activated.emit(item.data(_ID_ROLE))

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_item_changed(self, current: QListWidgetItem | None, _previous) -> None:
        if current is not None:
            self.currentChanged.emit(current.data(_ID_ROLE))

    @Slot(QListWidgetItem)
    def _on_item_changed(self, _item: QListWidgetItem) -> None:
        self._update_summary()
        self.selectionChanged.emit()

    @Slot()
    def _on_select_all_clicked(self) -> None:
        self.select_all(True)

    @Slot()
    def _on_select_none_clicked(self) -> None:
        self.select_all(False)
