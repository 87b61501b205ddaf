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
        self.hide()

    def start(self, title: str) -> None:
        self.progress.setRange(0, 0)  # busy until the first progress event
        self.progress.setFormat(title + "…")
        self.progress.setToolTip("")
        self.eta_label.setText("")
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
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.progress.setFormat(message[:60] if message else f"{done}/{total}")
        self.progress.setToolTip(message)
        self.eta_label.setText(format_eta(eta))

    def finish(self) -> None:
        self.hide()
        self.eta_label.setText("")
