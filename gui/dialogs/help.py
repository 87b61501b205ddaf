"""Help: the keyboard shortcut sheet and About."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from engine import __version__

SHORTCUTS = [
    ("Ctrl+O", "Open a dataset folder"),
    ("Ctrl+Shift+O", "Open a training run folder"),
    ("Ctrl+1 / 2 / 3", "Dataset, Training, Gallery panel"),
    ("Ctrl+0", "Show or hide the log"),
    ("F1", "This sheet"),
    ("Ctrl+Q", "Quit (asks first while work is running)"),
    ("Mouse wheel", "Next / previous slice"),
    ("Ctrl + mouse wheel", "Zoom"),
    ("Left drag", "Window / level (horizontal: width, vertical: level)"),
    ("Up/Down, Left/Right", "Step one slice"),
    ("PgUp / PgDn", "Step ten slices"),
    ("Home / End", "First / last slice"),
    ("R, Ctrl+double-click", "Reset window / level"),
    ("T", "Show / hide the label overlay"),
    ("Drag a folder onto the window", "Open it (a dataset, or a run folder)"),
]


def shortcuts_html() -> str:
    rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in SHORTCUTS)
    return f"<table>{rows}</table>"


def show_shortcuts(parent: QWidget | None) -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("Keyboard shortcuts")
    box.setTextFormat(box.textFormat().RichText)
    box.setText(shortcuts_html())
    box.exec()


def show_about(parent: QWidget | None) -> None:
    QMessageBox.about(
        parent,
        "About SynthVol",
        f"<h3>SynthVol {__version__}</h3>"
        "<p>Labeled synthetic CT and MR volumes from your own data, offline: a label-map-conditioned "
        "GAN (SPADE U-Net) trained on your machine, exported as synthetic DICOM with DICOM SEG, NIfTI "
        "and an nnU-Net dataset.</p>"
        "<p>Synthetic images are for research and for training algorithms, not for diagnosis. Every "
        "exported file is marked as synthetic.</p>",
    )
