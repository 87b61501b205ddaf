"""Gallery panel (placeholder until the gallery is built)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.panels.base import Panel


class GalleryPanel(Panel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: Path | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Train a run or open one to generate synthetic volumes.", self))

    @Slot(object)
    def set_run(self, folder) -> None:
        self.run = Path(folder) if folder else None
