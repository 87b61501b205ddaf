"""PySide6 6.12.0 on CPython < 3.12 drops a reference to True on every Python-side Signal.emit();
pyqtgraph emits on every repaint, so a session aborts with "Fatal Python error: bool_dealloc".
pyproject.toml keeps PySide6 below 6.12; this test fails if a broken release comes back."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


def test_signal_emit_keeps_its_reference_to_true():
    class Emitter(QObject):
        fired = Signal()

    emitter = Emitter()
    before = sys.getrefcount(True)
    for _ in range(1000):
        emitter.fired.emit()
    assert sys.getrefcount(True) >= before - 5
