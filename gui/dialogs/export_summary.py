"""What an export wrote: cases, files, size, time and the folders, with a button that opens the
export folder in the file manager."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QStyle, QVBoxLayout, QWidget

from engine.export import ExportResult

FOLDERS = {"dicom": ("dicom", "DICOM series + SEG"), "nifti": ("nifti", "NIfTI"), "nnunet": ("nnUNet_raw", "nnU-Net")}


def summary_text(result: ExportResult, formats, n_synthetic: int, nnunet_dataset: str = "") -> str:
    n_real = max(0, result.n_cases - n_synthetic)
    cases = f"{n_synthetic} synthetic case{'s' if n_synthetic != 1 else ''}"
    if n_real:
        cases += f" and {n_real} real training case{'s' if n_real != 1 else ''} (nnU-Net set)"
    lines = [
        f"<b>Exported {cases}</b>",
        f"{result.files} files, {result.bytes_written / 1e6:.1f} MB in {result.seconds:.1f} s",
        f"into <code>{escape(str(result.out_dir))}</code>",
        "<ul>",
    ]
    for key in formats:
        folder, what = FOLDERS[key]
        sub = f"{folder}/{nnunet_dataset}" if key == "nnunet" and nnunet_dataset else folder
        lines.append(f"<li>{what}: <code>{escape(sub)}/</code></li>")
    lines.append(f"<li>Manifest: <code>{escape(Path(result.manifest_path).name)}</code></li></ul>")
    return "<br>".join(lines[:3]) + "".join(lines[3:])


class ExportSummaryDialog(QDialog):
    def __init__(self, parent: QWidget | None, result: ExportResult, formats, n_synthetic: int, nnunet_dataset: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Export complete")
        self.result = result
        icon = QLabel(self)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_MessageBoxIconSize, None, self)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation).pixmap(size, size))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.text = QLabel(summary_text(result, formats, n_synthetic, nnunet_dataset), self)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setMinimumWidth(420)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.open_button = buttons.addButton("Open folder", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(self.open_folder)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addWidget(self.text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(buttons)

    def plain_text(self) -> str:
        return self.text.text()

    @Slot()
    def open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.result.out_dir)))
