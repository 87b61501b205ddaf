"""The training settings form: presets, the options that matter to users, validated before start."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
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
PRESET_TEXT = {  # preset -> (what the list shows, what its tooltip says)
    "quick": ("Quick (CPU, minutes)", "128 px crops, a small generator: recognisable images in minutes on a CPU"),
    "quality": ("Quality (GPU, hours)", "256 px crops, a larger generator (SPADE 128): hours on a GPU"),
}


TIPS = {  # every setting in plain words
    "Preset": "A starting point: Quick trains a small model on the CPU in minutes; Quality a larger one on a GPU "
              "in hours",
    "Image size": "The square crop of each slice the generator learns from, in pixels (larger: more detail, slower)",
    "Iterations": "How many training steps (each step shows the generator a batch of slices); more steps, better "
                  "images, up to a point (the quality curve shows when it levels off)",
    "Batch size": "Slices per training step. 'auto' measures the memory and uses the largest that fits",
    "Device": "Where training runs: a GPU is 10-100x faster than the CPU",
    "GPUs (DDP)": "Several GPUs share the work (distributed data parallel through torchrun)",
    "Seed": "The same seed and settings give the same run",
    "Rare labels more often": "0: slices are drawn uniformly; 1: slices holding each label are drawn equally often, "
                              "so a small structure (a lesion) is learned as well as a large one",
    "Run folder": "Where the run keeps its checkpoints, curves, previews and generated volumes",
    "Generator": "The network: SPADE U-Net (the label map guides every layer) or pix2pix (a simpler baseline)",
    "Context slices": "Label-map slices above and below given with each slice, so neighbouring slices fit together",
    "Modality": "How intensities are scaled for training; read from DICOM or dataset.json when left on 'From the data'",
    "Learning rate": "How big each training step's change is. Lower it when the run is unstable (the quality falls "
                     "or swings); 'preset' keeps the preset's",
    "Validate every": "Every how many steps the quality curve gets a point (and a preview is drawn)",
    "Checkpoint every": "Every how many steps the model is saved (training can resume from the last save)",
}


def _add_row(form: QFormLayout, text: str, widget) -> None:
    """A form row whose label and field both carry the setting's tooltip."""
    label = QLabel(text)
    label.setToolTip(TIPS.get(text, ""))
    if hasattr(widget, "setToolTip") and not widget.toolTip():
        widget.setToolTip(TIPS.get(text, ""))
    form.addRow(label, widget)


class TrainingForm(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.devices: list[DeviceInfo] = list_devices()
        self.preset = QComboBox(self)
        self.preset.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset.setMinimumContentsLength(18)  # the long preset names never widen the settings column
        for key, (text, tip) in PRESET_TEXT.items():
            self.preset.addItem(text, key)
            self.preset.setItemData(self.preset.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
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
        self.learning_rate = QDoubleSpinBox(self)
        self.learning_rate.setDecimals(6)
        self.learning_rate.setRange(0.0, 0.01)
        self.learning_rate.setSingleStep(0.00005)
        self.learning_rate.setSpecialValueText("preset")
        self.learning_rate.setValue(0.0)
        self.val_every = QSpinBox(self)
        self.val_every.setRange(1, 1_000_000)
        self.val_every.setValue(100)
        self.ckpt_every = QSpinBox(self)
        self.ckpt_every.setRange(1, 1_000_000)
        self.ckpt_every.setValue(250)

        form = QFormLayout()
        for text, widget in (("Preset", self.preset), ("Image size", self.image_size), ("Iterations", self.iterations),
                             ("Batch size", batch_row), ("Device", self.device)):
            _add_row(form, text, widget)
        if not self.gpus.isHidden():
            _add_row(form, "GPUs (DDP)", self.gpus)
        for text, widget in (("Seed", self.seed), ("Rare labels more often", self.balance), ("Run folder", run_row)):
            _add_row(form, text, widget)
        self.advanced_toggle = QPushButton("Advanced settings ▸", self)
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setFlat(True)
        self.advanced_toggle.setStyleSheet("text-align: left; padding: 2px;")
        self.advanced_toggle.setToolTip("Settings for engineers: the network, context, normalisation, learning rate")
        advanced = QWidget(self)
        adv_form = QFormLayout(advanced)
        adv_form.setContentsMargins(12, 0, 0, 0)
        for text, widget in (("Generator", self.arch), ("Context slices", self.context), ("Modality", self.modality),
                             ("Learning rate", self.learning_rate), ("Validate every", self.val_every),
                             ("Checkpoint every", self.ckpt_every)):
            _add_row(adv_form, text, widget)
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
        text = self.gpus.text().strip() if not self.gpus.isHidden() else ""
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
            **self._learning_rates(),
            preview_every=self.val_every.value(),
            checkpoint_every=self.ckpt_every.value(),
        )
        if cfg.data is None:
            raise ConfigError("Open a dataset first (Dataset panel).")
        cfg.validate()
        return cfg

    def _learning_rates(self) -> dict:
        """lr_g / lr_d from the Learning rate box: 0 ("preset") keeps the preset's; another value
        sets the generator's and scales the discriminator's by the same factor."""
        lr = self.learning_rate.value()
        if lr <= 0:
            return {}
        preset = PRESET_TRAINING[self.preset.currentData()]
        lr_g, lr_d = float(preset.get("lr_g", lr)), float(preset.get("lr_d", lr))
        return {"lr_g": lr, "lr_d": lr * lr_d / lr_g}

    def fill_from(self, cfg: TrainingConfig) -> None:
        """Show a run's saved settings."""
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(max(0, self.preset.findData(cfg.preset)))
        self.preset.blockSignals(False)
        r = cfg.resolved()
        if self.image_size.findData(r.image_size) < 0:  # a size made on the command line (e.g. 80): shown as is
            self.image_size.addItem(f"{r.image_size} × {r.image_size}", r.image_size)
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
        preset_lr = PRESET_TRAINING.get(r.preset or "", {}).get("lr_g")
        self.learning_rate.setValue(0.0 if r.lr_g is None or r.lr_g == preset_lr else float(r.lr_g))
        if r.data is not None:
            self.data_folder = Path(r.data)
        if r.run is not None:
            self.run_folder.setText(str(r.run))

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
