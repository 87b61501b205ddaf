"""Corner text and orientation letters drawn over a slice view, as radiology viewers show them.

Plain QLabels laid over the graphics view's viewport: they stay put while the image is zoomed or
panned, never take the mouse, and keep a dark outline so they read on bright bone and dark air.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsDropShadowEffect, QLabel, QWidget

CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
EDGES = ("top", "bottom", "left", "right")
_MARGIN = 6
_TEXT_COLOR = "#f2f2f2"
_LETTER_COLOR = "#ffd75e"  # orientation letters in amber, as Slicer and most PACS do


def _overlay_label(parent: QWidget, color: str, bold: bool = False) -> QLabel:
    label = QLabel(parent)
    label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    label.setTextFormat(Qt.TextFormat.PlainText)
    weight = "bold" if bold else "normal"
    label.setStyleSheet(f"color: {color}; background: transparent; font-weight: {weight};")
    shadow = QGraphicsDropShadowEffect(label)
    shadow.setOffset(1, 1)
    shadow.setBlurRadius(3)
    shadow.setColor(QColor(0, 0, 0, 230))
    label.setGraphicsEffect(shadow)
    return label


class ViewAnnotations(QObject):
    """Four corner texts, four edge letters and a centred message over ``viewport``."""

    def __init__(self, viewport: QWidget) -> None:
        super().__init__(viewport)
        self._viewport = viewport
        self.corners = {name: _overlay_label(viewport, _TEXT_COLOR) for name in CORNERS}
        self.edges = {name: _overlay_label(viewport, _LETTER_COLOR, bold=True) for name in EDGES}
        self.message = _overlay_label(viewport, "#a0a0a0")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        for name in ("top_right", "bottom_right"):
            self.corners[name].setAlignment(Qt.AlignmentFlag.AlignRight)
        viewport.installEventFilter(self)

    def set_corner(self, name: str, text: str) -> None:
        label = self.corners[name]
        if label.text() != text:
            label.setText(text)
            self._place(label, name)

    def corner(self, name: str) -> str:
        return self.corners[name].text()

    def set_letters(self, letters: dict[str, str] | None) -> None:
        for name, label in self.edges.items():
            label.setText((letters or {}).get(name, ""))
            self._place(label, name)

    def set_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self._place(self.message, "center")

    def clear(self, message: str = "") -> None:
        """No text anywhere but ``message`` in the middle."""
        for name in CORNERS:
            self.set_corner(name, "")
        self.set_letters(None)
        self.set_message(message)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self._viewport and event.type() == QEvent.Type.Resize:
            self.relayout()
        return False

    def relayout(self) -> None:
        for name, label in self.corners.items():
            self._place(label, name)
        for name, label in self.edges.items():
            self._place(label, name)
        self._place(self.message, "center")

    def _place(self, label: QLabel, where: str) -> None:
        label.adjustSize()
        w, h = self._viewport.width(), self._viewport.height()
        lw, lh = label.width(), label.height()
        m = _MARGIN
        x = {"left": m, "right": w - lw - m}.get(where.split("_")[-1], (w - lw) // 2)
        y = {"top": m, "bottom": h - lh - m}.get(where.split("_")[0], (h - lh) // 2)
        if where in ("left", "right"):
            y = (h - lh) // 2
        if where in ("top", "bottom"):
            x = (w - lw) // 2
        label.move(max(0, x), max(0, y))
        label.raise_()
