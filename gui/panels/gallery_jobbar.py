"""The gallery's job bar: the progress of the one long job that runs (generate, export or quality
check) with its message, ETA and a Cancel button; hidden while nothing runs."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


def format_eta(seconds: float) -> str:
    if seconds < 0:
        return ""
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"ETA {h}:{m:02d}:{s:02d}" if h else f"ETA {m}:{s:02d}"


class JobBar(QWidget):
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.progress = QProgressBar(self)
        self.progress.setMinimumWidth(260)
        self.progress.setMaximumWidth(360)
        self.eta_label = QLabel("", self)
        self.eta_label.setStyleSheet("color: gray;")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the running job (finished volumes are kept; a partial export is removed)")
        self.cancel_button.clicked.connect(self.cancelRequested)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress)
        row.addWidget(self.eta_label)
        row.addWidget(self.cancel_button)
        self._paused = False
        self.eta_label.setToolTip("Estimated time left, from the volumes made so far (blank while paused)")
        self.hide()

    def start(self, title: str) -> None:
        self.progress.setRange(0, 0)  # busy until the first progress event
        self.progress.setFormat(title + "…")
        self.progress.setToolTip("")
        self.eta_label.setText("")
        self._paused = False
        self.cancel_button.setEnabled(True)
        self.show()

    def stopping(self) -> None:
        self.cancel_button.setEnabled(False)
        self.progress.setFormat("Stopping…")

    def is_stopping(self) -> bool:
        return self.isVisible() and not self.cancel_button.isEnabled()

    @Slot(int, int, str, float, float)
    def set_progress(self, done: int, total: int, message: str, _rate: float, eta: float) -> None:
        if self.is_stopping():
            return  # keep saying "Stopping…" until the job ends
        total = max(total, 1)
        self.progress.setRange(0, total)
        self.progress.setValue(min(done, total))
        percent = f"{100 * min(done, total) // total}%"
        self.progress.setFormat(f"{message[:56]}  {percent}" if message else percent)
        self.progress.setToolTip(message)
        self.eta_label.setText("" if self._paused else format_eta(eta))

    @Slot(str)
    def show_state(self, state: str) -> None:
        """The job's state from its worker: no time left is told while it is paused."""
        self._paused = state == "paused"
        if self._paused:
            self.eta_label.setText("")
            self.progress.setFormat("Paused")

    def finish(self) -> None:
        self.hide()
        self._paused = False
        self.eta_label.setText("")
