"""SideBySideView: two slice views kept in step, e.g. a synthetic volume beside its real source case.

Slice index, orientation, window/level, overlay opacity and visibility, zoom and pan follow each
other both ways; each view keeps its own volume, labels and legend. One control row above both
(the left view's, moved up: the right one would only repeat it) and a caption above each side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

from gui.widgets.slice_view import SliceView


class SideBySideView(QWidget):
    def __init__(
        self,
        left_caption: str = "Synthetic",
        right_caption: str = "Real source",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.left = SliceView(self)
        self.right = SliceView(self)
        self.left_caption = self._caption(left_caption)
        self.right_caption = self._caption(right_caption)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        self.toolbar = self.left.toolbar
        self.right.toolbar.hide()
        self.right.set_keyboard_shortcuts(False)  # T reaches the left view; the right one follows it
        self.right.set_legend_shown(False)  # one legend for both (same label table): room for the images
        grid.addWidget(self.toolbar, 0, 0, 1, 2)  # re-parented: it now spans both views
        grid.addWidget(self.left_caption, 1, 0)
        grid.addWidget(self.right_caption, 1, 1)
        grid.addWidget(self.left, 2, 0)
        grid.addWidget(self.right, 2, 1)
        # one legend for both sides, at the right edge (the same label table; the views stay equal)
        grid.addWidget(self.left.legend, 2, 2, Qt.AlignmentFlag.AlignTop)
        grid.setRowStretch(2, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        self._syncing = False

        # Zoom and pan: pyqtgraph links the view ranges itself (both ways).
        self.right.view_box.setXLink(self.left.view_box)
        self.right.view_box.setYLink(self.left.view_box)
        for view in (self.left, self.right):
            view.sliceChanged.connect(self._on_slice_changed)
            view.windowChanged.connect(self._on_window_changed)
            view.orientationChanged.connect(self._on_orientation_changed)
            view.overlayOpacityChanged.connect(self._on_opacity_changed)
            view.overlayVisibleChanged.connect(self._on_overlay_visible_changed)

    def _caption(self, text: str) -> QLabel:
        label = QLabel(text, self)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)  # a long caption takes two lines; it never widens the window
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        label.setToolTip(text)
        font = label.font()
        font.setBold(True)
        label.setFont(font)
        return label

    def set_captions(self, left: str, right: str) -> None:
        for label, text in ((self.left_caption, left), (self.right_caption, right)):
            label.setText(text)
            label.setToolTip(text)

    def set_volumes(self, left: dict[str, Any], right: dict[str, Any]) -> None:
        """Load both sides (keyword arguments of ``SliceView.set_volume``), then align the right
        view on the left one: same orientation, slice, window/level and zoom."""
        self.left.set_volume(**left)
        self.right.set_volume(**right)
        self.sync_now()

    def sync_now(self) -> None:
        """Make the right view show what the left one shows (orientation, slice, W/L, overlay)."""
        self._syncing = True
        try:
            self.right.set_orientation(self.left.orientation())
            self.right.set_slice(self.left.slice_index)
            self.right.set_window(*self.left.window())
            self.right.set_overlay_opacity(self.left.overlay_opacity())
            self.right.set_overlay_visible(self.left.overlay_visible())
        finally:
            self._syncing = False
        self.left.fit_to_view()

    def _mirror(self, action: Callable[[SliceView], None]) -> None:
        """Apply ``action`` to the view that did not send the signal (once: no echo back)."""
        sender = self.sender()
        other = self.right if sender is self.left else self.left if sender is self.right else None
        if other is None or self._syncing:
            return
        self._syncing = True
        try:
            action(other)
        finally:
            self._syncing = False

    @Slot(int)
    def _on_slice_changed(self, index: int) -> None:
        self._mirror(lambda view: view.set_slice(index))

    @Slot(float, float)
    def _on_window_changed(self, center: float, width: float) -> None:
        self._mirror(lambda view: view.set_window(center, width))

    @Slot(str)
    def _on_orientation_changed(self, name: str) -> None:
        index = self.sender().slice_index

        def follow(view: SliceView) -> None:
            view.set_orientation(name)
            view.set_slice(index)

        self._mirror(follow)

    @Slot(float)
    def _on_opacity_changed(self, opacity: float) -> None:
        self._mirror(lambda view: view.set_overlay_opacity(opacity))

    @Slot(bool)
    def _on_overlay_visible_changed(self, visible: bool) -> None:
        self._mirror(lambda view: view.set_overlay_visible(visible))
