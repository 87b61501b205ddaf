"""The export dialog: which samples (all or the ticked ones), which formats (DICOM + SEG, NIfTI,
nnU-Net, 3D Slicer), an optional mix with the run's real training cases (its ratio defaults to the
one the utility study recommends, when it recommends one), the nnU-Net dataset name and id, and the
destination folder. Accepting validates through the engine's ExportConfig and asks before an
existing export is replaced; it never overwrites without a Yes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.errors import ConfigError
from engine.export import ExportConfig
from engine.export.atomic import is_previous_export
from engine.export.config import DEFAULT_FORMATS, sanitise_dataset_name

FORMAT_TEXT = (
    ("dicom", "DICOM image series + DICOM SEG", "One CT/MR series per case and a DICOM SEG with the labels (for PACS, Slicer, OHIF)"),
    ("nifti", "NIfTI (.nii.gz)", "<case>_image.nii.gz and <case>_label.nii.gz per case"),
    ("nnunet", "nnU-Net v2 raw dataset", "Dataset5NN_<Name>/ with dataset.json, imagesTr/ and labelsTr/: ready to train"),
    ("slicer", "3D Slicer (.nrrd + .seg.nrrd)",
     "slicer/<case>.nrrd and <case>.seg.nrrd: the image and a Slicer segmentation with every label named and coloured"),
)
DEFAULT_RATIO = 1.0


class ExportDialog(QDialog):
    def __init__(
        self,
        parent: QWidget | None,
        n_all: int,
        n_selected: int,
        destination: Path,
        n_real: int | None = None,
        quality_note: str = "",
        recommended: dict | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export synthetic data")
        self.setModal(True)
        self.overwrite = False
        self.n_all, self.n_selected = n_all, n_selected

        scope = QGroupBox("Samples", self)
        self.all_radio = QRadioButton(f"All samples in the gallery ({n_all})", scope)
        self.selected_radio = QRadioButton(f"Selected samples ({n_selected})", scope)
        self.selected_radio.setEnabled(n_selected > 0)
        (self.selected_radio if n_selected else self.all_radio).setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.all_radio)
        group.addButton(self.selected_radio)
        sl = QVBoxLayout(scope)
        sl.addWidget(self.all_radio)
        sl.addWidget(self.selected_radio)

        formats = QGroupBox("Formats", self)
        fl = QVBoxLayout(formats)
        self.format_boxes: dict[str, QCheckBox] = {}
        for key, text, tip in FORMAT_TEXT:
            box = QCheckBox(text, formats)
            box.setChecked(key in DEFAULT_FORMATS)
            box.setToolTip(tip)
            box.toggled.connect(self._update)
            fl.addWidget(box)
            self.format_boxes[key] = box

        nnunet = QGroupBox("nnU-Net dataset", self)
        self.mix = QCheckBox("Add the run's real training cases" + (f" ({n_real})" if n_real else ""), nnunet)
        self.mix.setToolTip("A mixed training set: every real training case plus synthetic ones at the ratio below")
        self.mix.toggled.connect(self._update)
        self.ratio = QDoubleSpinBox(nnunet)
        self.ratio.setRange(0.0, 100.0)
        self.ratio.setSingleStep(0.5)
        self.ratio.setSuffix(" synthetic per real case")
        self.ratio_note = QLabel("", nnunet)
        self.ratio_note.setWordWrap(True)
        self.ratio_note.setStyleSheet("color: gray;")
        self.set_recommended(recommended)
        self.dataset_name = QLineEdit("SynthVol", nnunet)
        self.dataset_name.textChanged.connect(self._update)
        self.dataset_id = QSpinBox(nnunet)
        self.dataset_id.setRange(500, 999)
        self.dataset_id.setValue(501)
        self.dataset_id.valueChanged.connect(self._update)
        self.nnunet_preview = QLabel("", nnunet)
        self.nnunet_preview.setStyleSheet("color: gray;")
        nl = QFormLayout(nnunet)
        nl.addRow(self.mix)
        nl.addRow("Ratio", self.ratio)
        nl.addRow("", self.ratio_note)
        nl.addRow("Name", self.dataset_name)
        nl.addRow("Dataset id", self.dataset_id)
        nl.addRow("", self.nnunet_preview)
        self.nnunet_box = nnunet

        self.destination = QLineEdit(str(destination), self)
        self.destination.setToolTip("A new folder (it is created), or a previous SynthVol export to replace")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        dest_row = QHBoxLayout()
        dest_row.addWidget(self.destination, 1)
        dest_row.addWidget(browse)
        dest = QGroupBox("Destination folder", self)
        dest.setLayout(dest_row)

        self.quality_label = QLabel(quality_note, self)
        self.quality_label.setWordWrap(True)
        self.quality_label.setStyleSheet("color: gray;")
        self.quality_label.setVisible(bool(quality_note))
        self.error = QLabel("", self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #eb6e64;")
        self.error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(scope)
        layout.addWidget(formats)
        layout.addWidget(nnunet)
        layout.addWidget(dest)
        layout.addWidget(self.quality_label)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)
        self._update()

    # ------------------------------------------------------------------ values
    def formats(self) -> tuple[str, ...]:
        return tuple(key for key, box in self.format_boxes.items() if box.isChecked())

    def selected_only(self) -> bool:
        return self.selected_radio.isChecked()

    def with_real(self) -> bool:
        return self.mix.isChecked() and "nnunet" in self.formats()

    def set_recommended(self, recommended: dict | None) -> None:
        """The utility study's recommended mix (the quality report's ``utility_study.recommended``) becomes the
        default ratio; without one (no study, or no mix helped) the ratio stays 1 and the note says why."""
        ratio = (recommended or {}).get("ratio")
        if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and ratio > 0:
            self.ratio.setValue(float(ratio))
            source = recommended.get("label_source")
            gain = recommended.get("gain")
            gain_text = f", +{gain:.3f} Dice over real alone" if isinstance(gain, (int, float)) else ""
            self.ratio_note.setText(f"Recommended by the utility study ({source or 'synthetic'} label maps{gain_text}).")
        else:
            self.ratio.setValue(DEFAULT_RATIO)
            reason = (recommended or {}).get("reason")
            self.ratio_note.setText(f"No ratio recommended: {reason}." if reason else
                                    "Run the utility study (Quality tab) to find the ratio that helps a segmenter.")

    def set_formats(self, formats) -> None:
        for key, box in self.format_boxes.items():
            box.setChecked(key in formats)

    def config(self) -> ExportConfig:
        """The settings as an ExportConfig, validated by the engine (raises ConfigError)."""
        text = self.destination.text().strip()
        cfg = ExportConfig(
            out_dir=Path(text).expanduser() if text else Path(""),
            formats=self.formats(),
            dataset_name=self.dataset_name.text().strip(),
            dataset_id=self.dataset_id.value(),
            overwrite=self.overwrite,
            mix_synthetic_per_real=self.ratio.value() if self.with_real() else None,
        )
        cfg.validate()
        return cfg

    # ------------------------------------------------------------------ behaviour
    @Slot()
    def _update(self) -> None:
        has_nnunet = "nnunet" in self.formats()
        self.nnunet_box.setEnabled(has_nnunet)
        self.ratio.setEnabled(has_nnunet and self.mix.isChecked())
        name = sanitise_dataset_name(self.dataset_name.text())
        self.nnunet_preview.setText(f"nnUNet_raw/Dataset{self.dataset_id.value():03d}_{name or '?'}")
        self.export_button.setEnabled(bool(self.formats()))
        self.show_error("")

    @Slot()
    def _browse(self) -> None:
        current = Path(self.destination.text().strip() or str(Path.home()))
        start = current if current.is_dir() else current.parent
        folder = QFileDialog.getExistingDirectory(self, "Export into folder", str(start))
        if folder:
            chosen = Path(folder)
            # an existing non-export folder is a parent: export into a new sub-folder of it
            if chosen.is_dir() and any(chosen.iterdir()) and not is_previous_export(chosen):
                chosen = chosen / current.name
            self.destination.setText(str(chosen))

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def accept(self) -> None:
        """Validate, then confirm replacing an existing export (the only way overwrite becomes True)."""
        self.overwrite = False
        try:
            cfg = self.config()
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        out = cfg.out_dir
        if out.exists():
            if not out.is_dir() or not is_previous_export(out):
                self.show_error(
                    f"{out} already exists and is not a previous SynthVol export: it will not be replaced. "
                    "Choose a new folder name."
                )
                return
            if any(out.iterdir()):
                answer = QMessageBox.question(
                    self,
                    "Replace the existing export?",
                    f"{out} already holds a SynthVol export.\n\nReplace it with this one? "
                    "The old files are deleted when the new export is complete.",
                    QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                    QMessageBox.StandardButton.No,
                )
                if answer != QMessageBox.StandardButton.Yes:
                    return
            self.overwrite = True  # a confirmed export, or an empty folder the user picked
        super().accept()
