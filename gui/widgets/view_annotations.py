"""Corner text and orientation letters drawn over a slice view, as radiology viewers show them.

Plain QLabels laid over the graphics view's viewport: they stay put while the image is zoomed or
panned, never take the mouse, and keep a dark outline so they read on bright bone and dark air.
Nothing overprints: each corner gets at most half the width (longer lines are elided, the full
text stays in the label's tooltip), and an edge letter that would touch a corner text moves
inward past it.
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
        self._texts: dict[str, str] = {}
        viewport.installEventFilter(self)

    def set_corner(self, name: str, text: str) -> None:
        if self._texts.get(name) != text:
            self._texts[name] = text
            self.relayout()

    def corner(self, name: str) -> str:
        """The corner's full text (what is drawn may be elided to fit)."""
        return self._texts.get(name, "")

    def set_letters(self, letters: dict[str, str] | None) -> None:
        for name, label in self.edges.items():
            label.setText((letters or {}).get(name, ""))
        self.relayout()

    def set_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.relayout()

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
        w, h = self._viewport.width(), self._viewport.height()
        m = _MARGIN
        half = max(40, (w - 3 * m) // 2)
        for name, label in self.corners.items():
            text = self._texts.get(name, "")
            metrics = label.fontMetrics()
            shown = "\n".join(metrics.elidedText(line, Qt.TextElideMode.ElideRight, half) for line in text.split("\n"))
            label.setText(shown if text else "")
            label.setToolTip(text if shown != text else "")
            label.adjustSize()
            x = m if name.endswith("left") else w - label.width() - m
            y = m if name.startswith("top") else h - label.height() - m
            label.move(max(0, x), max(0, y))
        for name, label in self.edges.items():
            label.adjustSize()
            lw, lh = label.width(), label.height()
            if name in ("left", "right"):
                x, y = (m if name == "left" else w - lw - m), (h - lh) // 2
                y = self._clear_of_corners(name, x, y, lw, lh)
            else:
                x, y = (w - lw) // 2, (m if name == "top" else h - lh - m)
                y = self._clear_of_corners(name, x, y, lw, lh)
            label.move(max(0, x), max(0, y))
            label.raise_()
        self.message.adjustSize()
        self.message.move(max(0, (w - self.message.width()) // 2), max(0, (h - self.message.height()) // 2))
        for label in self.corners.values():
            label.raise_()

    def _clear_of_corners(self, edge: str, x: int, y: int, lw: int, lh: int) -> int:
        """``y`` moved so an edge letter at (x, y) does not overlap a corner text on its side."""
        rows = ("top",) if edge == "top" else ("bottom",) if edge == "bottom" else ("top", "bottom")
        for row in rows:
            for side in ("left", "right"):
                corner = self.corners[f"{row}_{side}"]
                if not corner.text():
                    continue
                g = corner.geometry()
                if x < g.right() + 1 and g.left() < x + lw and y < g.bottom() + 1 and g.top() < y + lh:
                    y = g.bottom() + 2 if row == "top" else g.top() - lh - 2
        return y
