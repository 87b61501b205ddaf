"""What an export wrote: cases, files, size, time and the folders, with a button that opens the
export folder in the file manager and, when the export has the 3D Slicer format and Slicer is
installed (engine.export.viewers.find_slicer), one that opens an exported case in 3D Slicer."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from engine.export import ExportResult
from engine.export.config import FORMAT_FOLDERS
from engine.export.viewers import find_slicer, slicer_cases, slicer_command

WHAT = {"dicom": "DICOM series + SEG", "nifti": "NIfTI", "nnunet": "nnU-Net", "slicer": "3D Slicer (.nrrd + .seg.nrrd)"}


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
        folder = FORMAT_FOLDERS[key]
        sub = f"{folder}/{nnunet_dataset}" if key == "nnunet" and nnunet_dataset else folder
        lines.append(f"<li>{WHAT.get(key, key)}: <code>{escape(sub)}/</code></li>")
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

        # 3D Slicer: the cases of the export's slicer/ folder, opened by the Slicer found here
        self.slicer = find_slicer() if "slicer" in formats else None
        self.slicer_cases = slicer_cases(result.out_dir) if self.slicer is not None else []
        self.case_box = QComboBox(self)
        for case in self.slicer_cases:
            self.case_box.addItem(case.case_id)
        self.case_box.setVisible(len(self.slicer_cases) > 1)
        self.case_box.setToolTip("The exported case to open in 3D Slicer")
        self.slicer_button = buttons.addButton("Open in 3D Slicer", QDialogButtonBox.ButtonRole.ActionRole)
        self.slicer_button.setVisible(bool(self.slicer_cases))
        self.slicer_button.setToolTip(f"Open the case's image and segmentation in {self.slicer}" if self.slicer else "")
        self.slicer_button.clicked.connect(self.open_in_slicer)
        self.slicer_error = QLabel("", self)
        self.slicer_error.setWordWrap(True)
        self.slicer_error.setStyleSheet("color: #eb6e64;")
        self.slicer_error.hide()

        top = QHBoxLayout()
        top.addWidget(icon)
        top.addWidget(self.text, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.case_box)
        bottom.addWidget(buttons, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.slicer_error)
        layout.addLayout(bottom)

    def plain_text(self) -> str:
        return self.text.text()

    @Slot()
    def open_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.result.out_dir)))

    def slicer_command_line(self) -> list[str] | None:
        """The command that opens the chosen case (None when there is no Slicer or no case)."""
        if self.slicer is None or not self.slicer_cases:
            return None
        return slicer_command(self.slicer, self.slicer_cases[max(0, self.case_box.currentIndex())])

    @Slot()
    def open_in_slicer(self) -> bool:
        command = self.slicer_command_line()
        if command is None:
            return False
        ok, _pid = QProcess.startDetached(command[0], command[1:], str(self.result.out_dir))
        if not ok:
            self.slicer_error.setText(f"3D Slicer could not be started ({command[0]}): check that it runs on its own.")
        self.slicer_error.setVisible(not ok)
        return bool(ok)
