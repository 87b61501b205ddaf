"""Training panel: settings, Start / Pause / Resume / Stop driven by the worker's state, live loss
curves, previews beside the real slice, iterations/s and ETA; open an existing run and resume it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.errors import ConfigError, SynthVolError
from engine.training.config import TrainingConfig
from engine.training.distributed import train_distributed
from engine.training.run_folder import TrainingRun
from engine.training.trainer import train
from gui.panels.base import Panel
from gui.panels.training_form import TrainingForm
from gui.widgets.loss_plot import LossPlot
from gui.widgets.preview_strip import PreviewStrip
from gui.workers.engine_worker import EngineWorker


def _fmt_eta(seconds: float) -> str:
    if seconds < 0:
        return "--"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TrainingPanel(Panel):
    runChanged = Signal(object)  # Path of the current run folder

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = "idle"  # idle | starting | running | paused | stopping
        self.run_folder: Path | None = None
        self.colors: list | None = None
        self.form = TrainingForm(self)
        self.start_button = QPushButton("Start training", self)
        self.pause_button = QPushButton("Pause", self)
        self.stop_button = QPushButton("Stop", self)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button):
            b.setMinimumHeight(32)
            buttons.addWidget(b)
        settings = QGroupBox("Settings", self)
        sl = QVBoxLayout(settings)
        sl.addWidget(self.form, 1)
        sl.addLayout(buttons)

        self.plot = LossPlot(self)
        self.previews = PreviewStrip(self)
        self.stats = {k: QLabel("–", self) for k in ("iteration", "speed", "eta", "device", "ssim", "state")}
        stats = QGridLayout()
        for i, (key, title) in enumerate((("state", "State"), ("iteration", "Iteration"), ("speed", "Speed"),
                                          ("eta", "ETA"), ("ssim", "Validation"), ("device", "Device"))):
            t = QLabel(title, self)
            t.setStyleSheet("color: gray;")
            stats.addWidget(t, 0, i)
            stats.addWidget(self.stats[key], 1, i)
        right = QSplitter(Qt.Orientation.Vertical, self)
        right.addWidget(self.plot)
        right.addWidget(self.previews)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        right_box = QWidget(self)
        rl = QVBoxLayout(right_box)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addLayout(stats)
        rl.addWidget(right, 1)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(settings)
        split.addWidget(right_box)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        settings.setMinimumWidth(340)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(split)
        self._resume_mode = False
        self._set_state("idle")

    def device_summary(self) -> str:
        d = self.form.devices[0]
        return f"Device: {d.name}" + (f" ({d.memory_gb:.0f} GB)" if d.memory_gb else "")

    # ------------------------------------------------------------------ dataset / runs
    @Slot(object)
    def set_dataset(self, result) -> None:
        if self.state != "idle":
            return
        self.form.set_dataset(result.root)
        self._resume_mode = False
        self._set_state("idle")

    def open_run(self, folder: Path) -> bool:
        if self.state != "idle":
            self.report_failure("Training is running", "Stop the current training before opening another run.")
            return False
        run = TrainingRun(folder)
        try:
            record = run.read_config()
            cfg = run.read_training_config()
            colors = run.label_colors()
        except (SynthVolError, OSError, KeyError, ValueError) as exc:
            self.report_failure("Not a run folder", f"{folder}: cannot be opened as a training run ({exc}).")
            return False
        self.form.fill_from(dataclasses.replace(cfg, run=Path(folder)))
        self.plot.clear()
        self.plot.load_history(run.read_metrics())
        self.colors = colors
        samples = run.sample_images()
        if samples:
            self.previews.show_file(str(samples[-1]), f"Last preview: {samples[-1].name} (label map · real · generated)")
        metrics = run.read_metrics()
        last = metrics[-1]["iteration"] if metrics else 0
        self.stats["iteration"].setText(f"{last} / {cfg.resolved().iterations}")
        self.stats["device"].setText(record.get("device_name") or record.get("device", "–"))
        ssim = [m["val_ssim"] for m in metrics if "val_ssim" in m]
        if ssim:
            self.stats["ssim"].setText(f"SSIM {ssim[-1]:.3f}")
        self.run_folder = Path(folder)
        self._resume_mode = run.has_checkpoint()
        self._set_state("idle")
        self.statusMessage.emit(f"Opened run {folder} (iteration {last})")
        self.runChanged.emit(Path(folder))
        return True

    # ------------------------------------------------------------------ control
    @Slot()
    def start(self) -> None:
        try:
            cfg = self.form.config()
        except ConfigError as exc:
            self.form.show_error(str(exc))
            return
        self.form.show_error("")
        if self._resume_mode:
            cfg = dataclasses.replace(cfg, resume=True)
        elif TrainingRun(cfg.run).exists() and TrainingRun(cfg.run).has_checkpoint():
            self.form.show_error(f"{cfg.run} already holds a run: choose a new run folder, or open it (File ▸ Open run) to resume.")
            return
        if not self._resume_mode:
            self.plot.clear()
            self.previews.clear()
        self.run_folder = Path(cfg.run)
        gpus = self.form.selected_gpus()
        if len(gpus) > 1:
            self.start_distributed(cfg, len(gpus), gpus)
            return
        worker = EngineWorker(train, cfg)
        self._connect(worker)
        self._set_state("starting")
        self.stats["device"].setText(self.form.device.currentText().split(":", 1)[-1].strip())
        self.plot.timer.start()
        self.start_worker("train", worker)
        self.statusMessage.emit(f"Training into {cfg.run}")

    def start_distributed(self, cfg: TrainingConfig, nproc: int, gpus: list[int] | None = None) -> None:
        """Train with DDP in torchrun child processes (several GPUs, or CPU processes): the engine's
        ``train_distributed`` in the same worker as any other training."""
        self.run_folder = Path(cfg.run)
        worker = EngineWorker(train_distributed, cfg, nproc=nproc, gpus=gpus)
        self._connect(worker)
        self._set_state("starting")
        self.stats["device"].setText(f"{nproc} processes (DDP)" + (f" on GPUs {gpus}" if gpus else ""))
        self.plot.timer.start()
        self.start_worker("train", worker)
        self.statusMessage.emit(f"Training with {nproc} processes into {cfg.run}")

    def _connect(self, worker) -> None:
        worker.progress.connect(self._on_progress)
        worker.lossesReady.connect(self._on_losses)
        worker.preview.connect(self._on_preview)
        worker.logMessage.connect(self._on_log)
        worker.stateChanged.connect(self._on_worker_state)
        worker.succeeded.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)

    @Slot()
    def toggle_pause(self) -> None:
        w = self.worker("train")
        if w is None:
            return
        if self.state == "paused":
            w.resume()
            self.pause_button.setEnabled(False)  # re-enabled when the worker says it runs
        elif self.state == "running":
            w.pause()
            self.pause_button.setEnabled(False)  # re-enabled when the worker says it paused

    @Slot()
    def stop(self) -> None:
        w = self.worker("train")
        if w is not None:
            w.stop()

    def _set_state(self, state: str) -> None:
        self.state = state
        idle = state == "idle"
        self.start_button.setEnabled(idle)
        self.start_button.setText("Resume training" if (idle and self._resume_mode) else "Start training")
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(state in ("starting", "running", "paused"))
        self.form.setEnabled(idle)
        self.stats["state"].setText({"idle": "idle", "starting": "preparing data…", "running": "training",
                                     "paused": "paused", "stopping": "stopping…"}[state])

    # ------------------------------------------------------------------ worker signals
    @Slot(str)
    def _on_worker_state(self, state: str) -> None:
        if state in ("running", "paused", "stopping"):
            self._set_state(state)

    @Slot(int, int, str, float, float)
    def _on_progress(self, done: int, total: int, message: str, rate: float, eta: float) -> None:
        if message == "Training":
            self.stats["iteration"].setText(f"{done} / {total}")
            self.stats["speed"].setText(f"{rate:.2f} it/s" if rate > 0 else "–")
            self.stats["eta"].setText(_fmt_eta(eta))
        else:
            self.statusMessage.emit(message)

    @Slot(list)
    def _on_losses(self, batch: list) -> None:
        for iteration, values in batch:
            self.plot.append(iteration, values)
            if "val_ssim" in values:
                self.stats["ssim"].setText(f"SSIM {values['val_ssim']:.3f}  PSNR {values.get('val_psnr', 0):.1f} dB")

    @Slot(int, dict, str)
    def _on_preview(self, iteration: int, images: dict, path: str) -> None:
        if not images and path:  # from a training process: its preview PNG
            self.previews.show_file(path, f"Iteration {iteration}: label map · real slice · generated")
            return
        if self.colors is None and self.run_folder is not None:
            try:
                self.colors = TrainingRun(self.run_folder).label_colors()
            except (SynthVolError, OSError, ValueError):
                pass  # not written yet: the strip's own colours this time
        self.previews.show_preview(iteration, images, self.colors)

    @Slot(str, str)
    def _on_log(self, level: str, text: str) -> None:
        import logging

        logging.getLogger("synthvol.training").log(getattr(logging, level.upper(), logging.INFO), text)

    @Slot(object)
    def _on_finished(self, result) -> None:
        if result is None:
            self.statusMessage.emit("Training stopped.")
            return
        what = "stopped" if result.stopped else "finished"
        self.statusMessage.emit(f"Training {what} at iteration {result.iteration}/{result.iterations}: {result.run}")
        self._resume_mode = result.stopped or result.iteration < result.iterations
        self.runChanged.emit(Path(result.run))

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._resume_mode = self.run_folder is not None and TrainingRun(self.run_folder).has_checkpoint()
        self.report_failure("Training failed", message, details)

    @Slot()
    def _on_done(self) -> None:
        self.plot.redraw()
        self.plot.timer.stop()
        self._set_state("idle")

    def prepare_screenshot(self) -> None:
        """Nothing to start: the screenshot shows what an opened run shows."""
