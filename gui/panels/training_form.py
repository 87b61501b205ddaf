"""The training settings form: presets, the options that matter to users, validated before start."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
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

from engine.errors import ConfigError
from engine.models.config import PRESET_TRAINING
from engine.training.config import TrainingConfig
from engine.training.devices import DeviceInfo, list_devices
from gui.settings import default_runs_dir

IMAGE_SIZES = (64, 96, 128, 160, 192, 256, 320, 384, 512)
PRESET_TEXT = {
    "quick": "Quick (CPU): 128 px, recognisable images in minutes",
    "quality": "Quality (GPU): 256 px, SPADE 128, hours on a GPU",
}


class TrainingForm(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.devices: list[DeviceInfo] = list_devices()
        self.preset = QComboBox(self)
        for key, text in PRESET_TEXT.items():
            self.preset.addItem(text, key)
        self.image_size = QComboBox(self)
        for s in IMAGE_SIZES:
            self.image_size.addItem(f"{s} × {s}", s)
        self.iterations = QSpinBox(self)
        self.iterations.setRange(1, 10_000_000)
        self.iterations.setSingleStep(500)
        self.batch = QSpinBox(self)
        self.batch.setRange(1, 1024)
        self.batch_auto = QCheckBox("auto", self)
        self.batch_auto.setToolTip("Measure memory on the device and use the largest batch that fits")
        self.device = QComboBox(self)
        for d in self.devices:
            self.device.addItem(d.label, d.id)
        self.gpus = QLineEdit(self)
        self.gpus.setPlaceholderText("e.g. 0,1 — several GPUs train with DDP (torchrun)")
        self.gpus.setVisible(sum(d.kind == "cuda" for d in self.devices) > 1)
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 2**31 - 1)
        self.balance = QDoubleSpinBox(self)
        self.balance.setRange(0.0, 1.0)
        self.balance.setSingleStep(0.1)
        self.balance.setValue(0.5)
        self.balance.setToolTip("0: slices drawn uniformly; 1: every label drawn equally often (oversamples rare labels)")
        self.run_folder = QLineEdit(self)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse_run)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_folder, 1)
        run_row.addWidget(browse)
        batch_row = QHBoxLayout()
        batch_row.addWidget(self.batch, 1)
        batch_row.addWidget(self.batch_auto)

        self.arch = QComboBox(self)
        self.arch.addItem("SPADE U-Net (label map in every decoder layer)", "spade_unet")
        self.arch.addItem("pix2pix U-Net (for comparison)", "pix2pix_unet")
        self.context = QSpinBox(self)
        self.context.setRange(0, 8)
        self.context.setValue(1)
        self.context.setToolTip("Neighbouring label slices on each side fed to the generator (2.5-D)")
        self.modality = QComboBox(self)
        self.modality.addItem("From the data", None)
        self.modality.addItem("CT (HU window)", "CT")
        self.modality.addItem("MR (per-volume percentiles)", "MR")
        self.modality.setToolTip("How intensities are normalised; read from DICOM or dataset.json when left alone")
        self.val_every = QSpinBox(self)
        self.val_every.setRange(1, 1_000_000)
        self.val_every.setValue(100)
        self.ckpt_every = QSpinBox(self)
        self.ckpt_every.setRange(1, 1_000_000)
        self.ckpt_every.setValue(250)

        form = QFormLayout()
        form.addRow("Preset", self.preset)
        form.addRow("Image size", self.image_size)
        form.addRow("Iterations", self.iterations)
        form.addRow("Batch size", batch_row)
        form.addRow("Device", self.device)
        if self.gpus.isVisible():
            form.addRow("GPUs (DDP)", self.gpus)
        form.addRow("Seed", self.seed)
        form.addRow("Class balance", self.balance)
        form.addRow("Run folder", run_row)
        self.advanced_toggle = QPushButton("Advanced settings ▸", self)
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setFlat(True)
        self.advanced_toggle.setStyleSheet("text-align: left; padding: 2px;")
        advanced = QWidget(self)
        adv_form = QFormLayout(advanced)
        adv_form.setContentsMargins(12, 0, 0, 0)
        adv_form.addRow("Generator", self.arch)
        adv_form.addRow("Context slices", self.context)
        adv_form.addRow("Modality", self.modality)
        adv_form.addRow("Validate every", self.val_every)
        adv_form.addRow("Checkpoint every", self.ckpt_every)
        self._advanced = advanced
        self.advanced_toggle.toggled.connect(self._show_advanced)
        self._show_advanced(False)
        self.error = QLabel("", self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #eb6e64;")
        self.error.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.advanced_toggle)
        layout.addWidget(advanced)
        layout.addWidget(self.error)
        layout.addStretch(1)

        self.preset.currentIndexChanged.connect(self._apply_preset)
        default = "quality" if any(d.kind == "cuda" for d in self.devices) else "quick"
        self.preset.setCurrentIndex(self.preset.findData(default))
        self._apply_preset()
        self.data_folder: Path | None = None

    @Slot(bool)
    def _show_advanced(self, on: bool) -> None:
        self._advanced.setVisible(on)
        self.advanced_toggle.setText("Advanced settings ▾" if on else "Advanced settings ▸")

    @Slot()
    def _apply_preset(self) -> None:
        values = PRESET_TRAINING[self.preset.currentData()]
        self.image_size.setCurrentIndex(self.image_size.findData(values["image_size"]))
        self.iterations.setValue(values["iterations"])
        self.batch.setValue(values["batch_size"])
        self.changed.emit()

    @Slot()
    def _browse_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Run folder", str(self.run_folder.text() or default_runs_dir()))
        if folder:
            self.run_folder.setText(folder)

    def set_dataset(self, folder: Path) -> None:
        self.data_folder = Path(folder)
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", self.data_folder.name).strip("_") or "dataset"
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M")
        self.run_folder.setText(str(default_runs_dir() / f"{name}-{stamp}"))

    def selected_gpus(self) -> list[int]:
        text = self.gpus.text().strip() if self.gpus.isVisible() else ""
        return [int(t) for t in re.split(r"[,\s]+", text) if t.isdigit()]

    def config(self) -> TrainingConfig:
        """The settings as a validated TrainingConfig (raises ConfigError with every problem)."""
        run = self.run_folder.text().strip()
        cfg = TrainingConfig(
            data=self.data_folder,
            run=Path(run) if run else None,
            preset=self.preset.currentData(),
            iterations=self.iterations.value(),
            image_size=self.image_size.currentData(),
            batch_size=self.batch.value(),
            auto_batch=self.batch_auto.isChecked(),
            device=self.device.currentData(),
            seed=self.seed.value(),
            class_balance=self.balance.value(),
            arch=self.arch.currentData(),
            context_slices=self.context.value(),
            modality=self.modality.currentData(),
            val_every=self.val_every.value(),
            preview_every=self.val_every.value(),
            checkpoint_every=self.ckpt_every.value(),
        )
        if cfg.data is None:
            raise ConfigError("Open a dataset first (Dataset panel).")
        cfg.validate()
        return cfg

    def fill_from(self, cfg: TrainingConfig) -> None:
        """Show a run's saved settings."""
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(max(0, self.preset.findData(cfg.preset)))
        self.preset.blockSignals(False)
        r = cfg.resolved()
        self.image_size.setCurrentIndex(max(0, self.image_size.findData(r.image_size)))
        self.iterations.setValue(r.iterations)
        self.batch.setValue(r.batch_size)
        self.seed.setValue(r.seed)
        self.balance.setValue(r.class_balance)
        self.arch.setCurrentIndex(max(0, self.arch.findData(r.arch)))
        self.context.setValue(r.context_slices)
        self.modality.setCurrentIndex(max(0, self.modality.findData(r.modality)))
        self.val_every.setValue(r.val_every)
        self.ckpt_every.setValue(r.checkpoint_every)
        if r.data is not None:
            self.data_folder = Path(r.data)
        if r.run is not None:
            self.run_folder.setText(str(r.run))

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
