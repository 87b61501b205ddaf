"""The mouse behaviour of a slice view, as in 3D Slicer.

- wheel: next / previous slice (pyqtgraph zooms on the wheel; that is overridden here),
- Ctrl+wheel: zoom about the cursor,
- left drag: window/level (horizontal = width, vertical = level),
- middle drag or Shift+left drag: pan,
- right drag: zoom.

The view box only reports what the user did (signals); the slice view decides what it means.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

_WHEEL_NOTCH = 120  # angle-delta units per wheel notch (high-resolution wheels send fractions)


class SliceViewBox(pg.ViewBox):
    """An image view box: y down (row 0 at the top), square pixels in millimetres, no menu."""

    sliceStepRequested = Signal(int)  # +1 / -1 per wheel notch
    windowDragged = Signal(float, float)  # dx, dy in screen pixels since the last drag event
    windowDragFinished = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent, lockAspect=True, invertY=True, enableMenu=False)
        self.setMouseMode(pg.ViewBox.PanMode)
        self._wheel_remainder = 0

    def wheelEvent(self, ev, axis=None) -> None:
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)  # pyqtgraph's zoom about the cursor
            return
        self._wheel_remainder += ev.delta()
        steps = int(self._wheel_remainder / _WHEEL_NOTCH)
        if steps:
            self._wheel_remainder -= steps * _WHEEL_NOTCH
            self.sliceStepRequested.emit(steps)
        ev.accept()

    def mouseDragEvent(self, ev, axis=None) -> None:
        button = ev.button()
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if button == Qt.MouseButton.LeftButton and not shift:
            ev.accept()
            delta = ev.pos() - ev.lastPos()  # view box pixels (the box itself is not scaled)
            if delta.x() or delta.y():
                self.windowDragged.emit(float(delta.x()), float(delta.y()))
            if ev.isFinish():
                self.windowDragFinished.emit()
            return
        # Middle (and Shift+left) drags pan, right drags zoom: pyqtgraph's own behaviour.
        super().mouseDragEvent(ev, axis)


# Keys of a slice view (Slicer's, plus R and T): key -> (action, argument).
_KEYS = {
    Qt.Key.Key_Up: ("step", 1),
    Qt.Key.Key_Right: ("step", 1),
    Qt.Key.Key_Down: ("step", -1),
    Qt.Key.Key_Left: ("step", -1),
    Qt.Key.Key_PageUp: ("step", 10),
    Qt.Key.Key_PageDown: ("step", -10),
    Qt.Key.Key_Home: ("first", 0),
    Qt.Key.Key_End: ("last", 0),
    Qt.Key.Key_R: ("reset_window", 0),
    Qt.Key.Key_T: ("toggle_overlay", 0),
}


def key_action(key: int, modifiers: Qt.KeyboardModifier) -> tuple[str, int] | None:
    """What a key press asks of a slice view, or None (Ctrl/Alt combinations are left to shortcuts)."""
    if modifiers & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier):
        return None
    return _KEYS.get(key)
