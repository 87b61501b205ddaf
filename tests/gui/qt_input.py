"""Input helpers for the GUI tests (real mouse and wheel events sent to a view's viewport)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

_MOVE_INTERVAL_MS = 15


# --------------------------------------------------------------------------- input helpers
def wheel(
    widget: QWidget, notches: int, modifiers=Qt.KeyboardModifier.NoModifier, pos: QPoint | None = None
) -> None:
    """Turn the mouse wheel over ``widget`` (a viewport) by ``notches`` (positive: away from the user)."""
    pos = QPointF(pos if pos is not None else widget.rect().center())
    event = QWheelEvent(
        pos,
        QPointF(widget.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)
    QApplication.processEvents()


def _mouse(widget: QWidget, kind: QEvent.Type, pos: QPoint, button, buttons, modifiers) -> None:
    local = QPointF(pos)
    event = QMouseEvent(kind, local, QPointF(widget.mapToGlobal(pos)), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def drag(
    widget: QWidget,
    start: QPoint,
    end: QPoint,
    button=Qt.MouseButton.LeftButton,
    modifiers=Qt.KeyboardModifier.NoModifier,
    steps: int = 8,
) -> None:
    """Press at ``start``, move in ``steps`` with the button held, release at ``end``.

    Moves are spaced like a real hand's: pyqtgraph drops mouse moves closer than 10 ms apart.
    """
    _mouse(widget, QEvent.Type.MouseButtonPress, start, button, button, modifiers)
    for i in range(1, steps + 1):
        QTest.qWait(_MOVE_INTERVAL_MS)
        p = start + (end - start) * (i / steps)
        _mouse(
            widget,
            QEvent.Type.MouseMove,
            QPoint(round(p.x()), round(p.y())),
            Qt.MouseButton.NoButton,
            button,
            modifiers,
        )
    _mouse(widget, QEvent.Type.MouseButtonRelease, end, button, Qt.MouseButton.NoButton, modifiers)
    QApplication.processEvents()


def double_click(widget: QWidget, pos: QPoint, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    left = Qt.MouseButton.LeftButton
    _mouse(widget, QEvent.Type.MouseButtonPress, pos, left, left, modifiers)
    _mouse(widget, QEvent.Type.MouseButtonRelease, pos, left, Qt.MouseButton.NoButton, modifiers)
    _mouse(widget, QEvent.Type.MouseButtonDblClick, pos, left, left, modifiers)
    _mouse(widget, QEvent.Type.MouseButtonRelease, pos, left, Qt.MouseButton.NoButton, modifiers)
    QApplication.processEvents()
