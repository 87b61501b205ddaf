"""The first screen when no dataset is open: reach a training run in three clicks."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class WelcomePage(QWidget):
    openDatasetRequested = Signal()
    openDemoRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("<h1>SynthVol</h1>", self)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel(
            "Make labeled synthetic CT and MR volumes from your own data, on this computer.<br>"
            "Open a folder of volumes with their label maps (DICOM, NIfTI, NRRD, MHA; nnU-Net, "
            "Decathlon or images/&nbsp;+&nbsp;labels/ layouts), train a generator, then export synthetic "
            "DICOM + SEG, NIfTI and nnU-Net datasets.",
            self,
        )
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setMaximumWidth(640)  # wraps to as many lines as it needs (a fixed width clipped the last)
        self.open_button = QPushButton("Open dataset…", self)
        self.demo_button = QPushButton("Open the demo dataset", self)
        for b in (self.open_button, self.demo_button):
            b.setMinimumSize(260, 44)
            f = b.font()
            f.setPointSize(f.pointSize() + 2)
            b.setFont(f)
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(self.openDatasetRequested)
        self.demo_button.clicked.connect(self.openDemoRequested)
        hint = QLabel("or drop a dataset folder onto this window  ·  Ctrl+O", self)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setStyleSheet("color: gray;")
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(title)
        row = QHBoxLayout()  # centred without an alignment flag, so the label gets height for its width
        row.addStretch(1)
        row.addWidget(text, 4)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addSpacing(24)
        layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.demo_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(8)
        layout.addWidget(hint)
        layout.addStretch(3)
