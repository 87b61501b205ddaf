"""The generation settings: how many volumes, where their label maps come from (the training maps,
deformed ones, rebalanced for a rare label, a folder of your own), the seed; validated by the
engine's GenerateConfig before anything starts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.data.labels import LabelTable
from engine.synthesis import GenerateConfig
from gui.widgets.label_overlay import swatch_icon

SOURCES = (
    ("train", "Training label maps", "The run's own training label maps, as they are"),
    ("augment", "Deformed training maps", "Training label maps bent by a smooth random deformation: new anatomy"),
    ("rebalance", "Rebalanced: more of a rare label", "Copies of a rare structure (e.g. a lesion) placed into training maps"),
    ("folder", "Label maps from a folder…", "Your own label maps (NIfTI, NRRD, MHA) with the run's label values"),
)


class GenerateForm(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.count = QSpinBox(self)
        self.count.setRange(1, 10_000)
        self.count.setValue(4)
        self.count.setSuffix(" volumes")
        self.count.setToolTip("How many synthetic volumes to generate")
        self.source = QComboBox(self)
        for key, text, tip in SOURCES:
            self.source.addItem(text, key)
            self.source.setItemData(self.source.count() - 1, tip, 3)  # ToolTipRole
        self.strength = QDoubleSpinBox(self)
        self.strength.setRange(0.0, 3.0)
        self.strength.setSingleStep(0.25)
        self.strength.setValue(1.0)
        self.strength.setToolTip("0: no deformation; 1: typical anatomical variation; 3: strong")
        self.rare_label = QComboBox(self)
        self.rare_label.setToolTip("The label to add more of")
        self.rare_copies = QSpinBox(self)
        self.rare_copies.setRange(1, 20)
        self.rare_copies.setValue(2)
        self.rare_copies.setSuffix(" per map")
        self.rare_copies.setToolTip("Regions of the rare label added to each label map")
        self.folder = QLineEdit(self)
        self.folder.setPlaceholderText("Folder of label maps")
        self.browse = QPushButton("Browse…", self)
        self.browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.setContentsMargins(0, 0, 0, 0)
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.browse)
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed and settings give the same volumes")

        self.form = QFormLayout()
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.addRow("Count", self.count)
        self.form.addRow("Label maps", self.source)
        self.form.addRow("Strength", self.strength)
        self.form.addRow("Rare label", self.rare_label)
        self.form.addRow("Copies", self.rare_copies)
        self.form.addRow("Folder", folder_row)
        self.form.addRow("Seed", self.seed)
        self._folder_row = folder_row
        self.error = QLabel("", self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #eb6e64;")
        self.error.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        self.source.currentIndexChanged.connect(self._on_source_changed)
        self._on_source_changed()

    def set_label_table(self, table: LabelTable | None) -> None:
        """Offer the run's labels (background excluded) as rare-label choices."""
        current = self.rare_label.currentData()
        self.rare_label.clear()
        if table is not None:
            for value in table.values:
                if value == 0:
                    continue
                info = table.entries[value]
                self.rare_label.addItem(swatch_icon(info.color, 12), f"{value}  {info.name}", value)
        index = self.rare_label.findData(current)
        self.rare_label.setCurrentIndex(index if index >= 0 else self.rare_label.count() - 1)

    @Slot()
    def _on_source_changed(self) -> None:
        kind = self.source.currentData()
        self.form.setRowVisible(self.strength, kind == "augment")
        self.form.setRowVisible(self.rare_label, kind == "rebalance")
        self.form.setRowVisible(self.rare_copies, kind == "rebalance")
        self.form.setRowVisible(self._folder_row, kind == "folder")
        self.show_error("")

    @Slot()
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of label maps", self.folder.text() or str(Path.home()))
        if folder:
            self.folder.setText(folder)

    def set_source(self, kind: str) -> None:
        self.source.setCurrentIndex(self.source.findData(kind))

    def config(self, run: Path) -> GenerateConfig:
        """The settings as a validated GenerateConfig (raises ConfigError naming every problem)."""
        kind = self.source.currentData()
        folder = self.folder.text().strip()
        return GenerateConfig(
            run=Path(run),
            count=self.count.value(),
            label_source=kind,
            label_folder=Path(folder) if kind == "folder" and folder else None,
            seed=self.seed.value(),
            deform_strength=self.strength.value(),
            rare_label=self.rare_label.currentData() if kind == "rebalance" else None,
            rare_copies=self.rare_copies.value(),
        ).validate()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
