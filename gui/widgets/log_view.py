"""LogView: the application log in a window, and QtLogHandler, which feeds it from any thread.

``QtLogHandler.emit`` runs on whichever thread logged; it only formats the record and emits a Qt
signal. The signal reaches ``LogView.append_record`` (a @Slot on the GUI thread) through a queued
connection, so a worker thread never touches a widget. Lines are batched and appended at most
every 50 ms, so a flood of debug lines cannot freeze the window; the view keeps the newest
``max_lines`` lines.
"""

from __future__ import annotations

import html
import logging
from collections import deque

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

LEVELS = (
    ("Debug", logging.DEBUG),
    ("Info", logging.INFO),
    ("Warning", logging.WARNING),
    ("Error", logging.ERROR),
)
_LEVEL_COLORS = {logging.WARNING: "#d39b00", logging.ERROR: "#e5484d", logging.CRITICAL: "#e5484d"}
DEFAULT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class LogRecordEmitter(QObject):
    """The QObject that carries records across threads: (levelno, formatted text)."""

    recordEmitted = Signal(int, str)


class QtLogHandler(logging.Handler):
    """A logging handler that forwards each record as a Qt signal; safe to call from any thread."""

    def __init__(self, level: int = logging.NOTSET, fmt: str = DEFAULT_FORMAT) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter(fmt, datefmt="%H:%M:%S"))
        self.emitter = LogRecordEmitter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # logging's contract: never raise from emit
            self.handleError(record)
            return
        try:
            self.emitter.recordEmitted.emit(record.levelno, text)
        except RuntimeError:  # the emitter was deleted (application shutting down)
            pass


class LogView(QWidget):
    """Read-only log lines with a minimum-level filter, Copy all and Clear."""

    def __init__(self, parent: QWidget | None = None, max_lines: int = 5000) -> None:
        super().__init__(parent)
        self.max_lines = int(max_lines)
        self._lines: deque[tuple[int, str]] = deque(maxlen=self.max_lines)
        self._pending: list[tuple[int, str]] = []
        self._min_level = logging.INFO

        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(self.max_lines)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlaceholderText("Nothing logged yet.")

        self.level_combo = QComboBox(self)
        for name, level in LEVELS:
            self.level_combo.addItem(name, level)
        self.level_combo.setCurrentIndex(1)
        self.level_combo.setToolTip("Show messages at this level and above")
        self.level_combo.currentIndexChanged.connect(self._on_level_changed)
        self.copy_button = QPushButton("Copy all", self)
        self.copy_button.setToolTip("Copy the shown lines to the clipboard (to paste into a bug report)")
        self.copy_button.clicked.connect(self.copy_all)
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.clicked.connect(self.clear)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Level:", self))
        bar.addWidget(self.level_combo)
        bar.addStretch(1)
        bar.addWidget(self.copy_button)
        bar.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.text, 1)

        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(50)
        self._flush_timer.timeout.connect(self.flush)

    def connect_handler(self, handler: QtLogHandler) -> None:
        """Show the records of ``handler`` here (a queued connection when logged off-thread)."""
        handler.emitter.recordEmitted.connect(self.append_record)

    @Slot(int, str)
    def append_record(self, levelno: int, text: str) -> None:
        self._pending.append((int(levelno), text))
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    @Slot(str, str)
    def append_message(self, level: str, text: str) -> None:
        """For engine ``Log(level, text)`` events: level is "debug", "info", "warning" or "error"."""
        self.append_record(logging.getLevelName(level.upper()) if level else logging.INFO, text)

    @Slot()
    def flush(self) -> None:
        """Append the batched lines now (the timer calls this; tests may too)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._lines.extend(pending)
        shown = [(lv, t) for lv, t in pending[-self.max_lines :] if lv >= self._min_level]
        if shown:
            bar = self.text.verticalScrollBar()
            at_bottom = bar.value() >= bar.maximum() - 2
            for lv, t in shown:
                self.text.appendHtml(self._html(lv, t))  # one block per record: the line cap counts records
            if at_bottom:
                bar.setValue(bar.maximum())

    def lines(self) -> list[str]:
        """The lines now shown (after the level filter)."""
        self.flush()
        return self.text.toPlainText().splitlines() if self.text.document().characterCount() > 1 else []

    def min_level(self) -> int:
        return self._min_level

    def set_min_level(self, level: int) -> None:
        index = self.level_combo.findData(int(level))
        if index >= 0:
            self.level_combo.setCurrentIndex(index)

    @Slot()
    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText("\n".join(self.lines()))

    @Slot()
    def clear(self) -> None:
        self._pending.clear()
        self._lines.clear()
        self.text.clear()

    @Slot(int)
    def _on_level_changed(self, _index: int) -> None:
        self._min_level = int(self.level_combo.currentData())
        self.flush()
        self.text.clear()
        for lv, t in self._lines:
            if lv >= self._min_level:
                self.text.appendHtml(self._html(lv, t))

    @staticmethod
    def _html(levelno: int, text: str) -> str:
        escaped = html.escape(text).replace("\n", "<br>").replace("  ", "&nbsp; ")
        color = _LEVEL_COLORS.get(levelno)
        return f'<span style="color:{color}">{escaped}</span>' if color else f"<span>{escaped}</span>"
