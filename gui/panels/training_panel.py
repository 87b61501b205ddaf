"""Training panel: settings, Start / Pause / Resume / Stop driven by the worker's state, live loss
curves, previews beside the real slice, iterations/s and ETA; open an existing run and resume it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.errors import ConfigError, SynthVolError
from engine.evaluation.training_state import grade
from engine.training.config import TrainingConfig
from engine.training.distributed import train_distributed
from engine.training.run_folder import TrainingRun
from engine.training.trainer import train
from gui.panels.base import Panel
from gui.panels.training_form import TrainingForm
from gui.panels.training_stats import TrainingStats, format_eta, same_path
from gui.widgets.preview_strip import COLUMNS, PreviewStrip
from gui.widgets.training_charts import TrainingCharts
from gui.workers.engine_worker import EngineWorker


class TrainingPanel(Panel):
    runChanged = Signal(object)  # Path of the current run folder
    deviceChanged = Signal(str)  # the device training runs on, as the engine reports it

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

        self.charts = TrainingCharts(self)
        self.plot = self.charts.losses  # every loss (the engineers' view)
        self.previews = PreviewStrip(self)
        self.context = QLabel("No dataset open: open one in the Dataset panel.", self)
        self.context.setWordWrap(True)
        self.context.setStyleSheet("color: gray;")
        self.context.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stats_grid = TrainingStats(self)
        self.stats = self.stats_grid.values
        right = QSplitter(Qt.Orientation.Horizontal, self)
        right.addWidget(self.charts)
        right.addWidget(self.previews)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        right.setChildrenCollapsible(False)
        right_box = QWidget(self)
        rl = QVBoxLayout(right_box)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.context)
        rl.addWidget(self.stats_grid)
        rl.addWidget(right, 1)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(settings)
        split.addWidget(right_box)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([360, 1200])  # the settings column no wider than its fields need
        settings.setMinimumWidth(340)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(split)
        self._resume_mode = False
        self._pending_dataset = None
        self._dataset_text = ""
        self._device_shown = False
        self._set_state("idle")

    def device_summary(self) -> str:
        d = self.form.devices[0]
        return f"Device: {d.name}" + (f" ({d.memory_gb:.0f} GB)" if d.memory_gb else "")

    # ------------------------------------------------------------------ dataset / runs
    @Slot(object)
    def set_dataset(self, result) -> None:
        """A dataset was opened. Idle: the panel starts over for it (the curves of another dataset's
        run must not look like this one's; that run stays in its folder, File ▸ Open run). While
        training: the run goes on, the panel says so, and starts over when the run ends."""
        root = Path(result.root)
        if self.state != "idle":
            self._pending_dataset = result
            self.context.setText(
                f"Training on {self.form.data_folder}. The dataset opened since, {root}, is used once this "
                "run ends (the panel then starts over for it)."
            )
            return
        self._pending_dataset = None
        same_data = self.run_folder is not None and self.form.data_folder is not None and same_path(
            self.form.data_folder, root)
        if same_data:  # the run shown trains on this very dataset: keep it
            self._show_context()
            return
        self.reset()
        self.form.set_dataset(root)
        n = len(result.usable_cases)
        self._dataset_text = f"Dataset: {root} ({n} case{'s' if n != 1 else ''} ready)"
        self._show_context()

    def reset(self) -> None:
        """No run shown: empty charts, previews and figures, a new run folder for the next start."""
        self.charts.clear()
        self.charts.timer.stop()
        self.previews.clear()
        self.stats_grid.reset()
        self.run_folder = None
        self.colors = None
        self._resume_mode = False
        self._set_state("idle")

    def _show_context(self) -> None:
        parts = [self._dataset_text] if self._dataset_text else []
        if self.run_folder is not None:
            parts.append(f"Run: {self.run_folder}")
        self.context.setText("   ·   ".join(parts) or "No dataset open: open one in the Dataset panel.")

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
        self.reset()
        self.form.fill_from(dataclasses.replace(cfg, run=Path(folder)))
        metrics = run.read_metrics()
        self.charts.load_history(metrics)
        self.colors = colors
        samples = run.sample_images()
        if samples:
            self.previews.show_file(str(samples[-1]), f"Last preview ({samples[-1].stem}): {COLUMNS} (click to enlarge)")
        last = metrics[-1]["iteration"] if metrics else 0
        self.stats["iteration"].setText(f"{last:,} / {cfg.resolved().iterations:,}")
        self._show_device(record)
        points = [m for m in metrics if "val_ssim" in m]
        if points:
            self._show_quality(points[-1])
        self.run_folder = Path(folder)
        self._dataset_text = f"Dataset: {cfg.data}" if cfg.data else ""
        self._show_context()
        self._resume_mode = run.has_checkpoint()
        self._set_state("idle")
        self.statusMessage.emit(f"Opened run {folder} (iteration {last})")
        self.runChanged.emit(Path(folder))
        return True

    def _show_device(self, record: dict) -> None:
        """The device as the engine recorded it in the run record, not as the form offered it."""
        text = str(record.get("device_name") or record.get("device") or "–")
        world = int(record.get("world_size") or 1)
        if world > 1:
            text = f"{world} processes (DDP): {text}"
        self.stats["device"].setText(text)
        self.stats_grid.set_tooltip_detail("device", text)
        self.deviceChanged.emit(text)

    def _show_quality(self, values) -> None:
        ssim, psnr = values.get("val_ssim"), values.get("val_psnr")
        text = f"SSIM {float(ssim):.3f}" + (f" · PSNR {float(psnr):.1f} dB" if psnr is not None else "")
        level = grade(float(ssim), float(psnr) if psnr is not None else None)
        self.stats["ssim"].setText(f"{text} ({level})" if level else text)

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
            self.charts.clear()
            self.previews.clear()
        self.run_folder = Path(cfg.run)
        self._device_shown = False
        self._show_context()
        gpus = self.form.selected_gpus()
        if len(gpus) > 1:
            self.start_distributed(cfg, len(gpus), gpus)
            return
        worker = EngineWorker(train, cfg)
        self._connect(worker)
        self._set_state("starting")
        self.stats["device"].setText("…")  # the engine's own account follows once the run is set up
        self.charts.timer.start()
        self.start_worker("train", worker)
        self.statusMessage.emit(f"Training into {cfg.run}")

    def start_distributed(self, cfg: TrainingConfig, nproc: int, gpus: list[int] | None = None) -> None:
        """Train with DDP in torchrun child processes (several GPUs, or CPU processes): the engine's
        ``train_distributed`` in the same worker as any other training."""
        self.run_folder = Path(cfg.run)
        self._device_shown = False
        worker = EngineWorker(train_distributed, cfg, nproc=nproc, gpus=gpus)
        self._connect(worker)
        self._set_state("starting")
        self.stats["device"].setText(f"{nproc} processes (DDP)" + (f" on GPUs {gpus}" if gpus else ""))
        self.charts.timer.start()
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
        if state != "running":
            self.stats["eta"].setText("")  # no time left to tell while paused, stopping or idle
            if state != "starting":
                self.stats["speed"].setText("–")

    # ------------------------------------------------------------------ worker signals
    @Slot(str)
    def _on_worker_state(self, state: str) -> None:
        if state in ("running", "paused", "stopping"):
            self._set_state(state)

    @Slot(int, int, str, float, float)
    def _on_progress(self, done: int, total: int, message: str, rate: float, eta: float) -> None:
        if message == "Training":
            self.stats["iteration"].setText(f"{done:,} / {total:,}")
            if self.state == "running":
                self.stats["speed"].setText(f"{rate:.2f} it/s" if rate > 0 else "–")
                self.stats["eta"].setText(format_eta(eta))
            if not self._device_shown and self.run_folder is not None:
                try:  # the run is set up: say what the engine runs on
                    self._show_device(TrainingRun(self.run_folder).read_config())
                    self._device_shown = True
                except (SynthVolError, OSError, KeyError, ValueError):
                    pass
        else:
            self.statusMessage.emit(message)

    @Slot(list)
    def _on_losses(self, batch: list) -> None:
        for iteration, values in batch:
            self.charts.append(iteration, values)
            if "val_ssim" in values:
                self._show_quality(values)

    @Slot(int, dict, str)
    def _on_preview(self, iteration: int, images: dict, path: str) -> None:
        if not images and path:  # from a training process: its preview PNG
            self.previews.show_file(path, f"Iteration {iteration:,}: {COLUMNS} (click to enlarge)")
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
        self.charts.redraw()
        self.charts.timer.stop()
        self._set_state("idle")
        if self._pending_dataset is not None:  # a dataset opened during the run: start over for it
            pending, self._pending_dataset = self._pending_dataset, None
            self.set_dataset(pending)

    def prepare_screenshot(self) -> None:
        """Nothing to start: the screenshot shows what an opened run shows."""

