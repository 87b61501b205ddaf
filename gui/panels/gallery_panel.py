"""Gallery panel: generate synthetic volumes from the current run (training, deformed, rebalanced
or your own label maps) in the background; browse them as thumbnails; compare one with the real
case its label map came from; tick samples and export them (DICOM + SEG, NIfTI, nnU-Net); check
the quality of the synthetic data before it leaves the hospital.

One long job at a time (generate, export or quality check) with its progress and Cancel in the
header; thumbnails and the comparison load in their own light workers. Every worker signal lands
on a @Slot method here; the jobs themselves live in gui/panels/gallery_jobs.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.data.labels import LabelTable
from engine.errors import ConfigError, SynthVolError
from engine.synthesis import GalleryItem
from engine.training.checkpoints import latest_checkpoint
from engine.training.run_folder import TrainingRun
from gui.dialogs.export_dialog import ExportDialog
from gui.dialogs.export_summary import ExportSummaryDialog
from gui.panels import gallery_jobs as jobs
from gui.panels.base import Panel
from gui.panels.gallery_compare import ComparePane
from gui.panels.gallery_export import (
    confirm_despite_memorisation,
    default_destination,
    quality_note,
    remember_destination,
)
from gui.panels.gallery_jobbar import JobBar
from gui.panels.generate_form import GenerateForm
from gui.panels.quality_view import QualityView
from gui.widgets.error_dialog import show_error
from gui.widgets.thumbnails import ThumbnailGrid
from gui.workers.engine_worker import EngineWorker

JOB_TITLES = {"generate": "Generating", "export": "Exporting", "quality": "Checking quality"}
NO_RUN_HINT = "Train a run (Training panel) or open one (File ▸ Open run…) to generate synthetic volumes."
GENERATE_HINT = "Generate volumes (left) to see them here, beside the real cases their label maps came from."
PICK_HINT = "Click a sample to see it beside the real case its label map came from."


class GalleryPanel(Panel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: Path | None = None
        self.label_table: LabelTable | None = None
        self.items: dict[str, GalleryItem] = {}
        self.report: dict | None = None
        self.quality_settings: dict = {}  # EvaluateConfig overrides (tests use small ones)
        self.export_dialog: ExportDialog | None = None
        self.summary_dialog: ExportSummaryDialog | None = None
        self._job: str | None = None  # generate | export | quality
        self._pending_run: tuple[Path | None] | None = None  # (folder,) to show when the job ends
        self._dataset: Path | None = None
        self._scan = None
        self._n_real: int | None = None
        self._shown_id: str | None = None
        self._wanted_id: str | None = None
        self._export_request: tuple | None = None
        self._tick_first = False
        self._build()
        self._set_run_info(None)
        self._update_buttons()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.run_label = QLabel("", self)
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.job_bar = JobBar(self)
        self.job_bar.cancelRequested.connect(self.cancel)
        self.progress, self.cancel_button = self.job_bar.progress, self.job_bar.cancel_button
        header = QHBoxLayout()
        header.addWidget(QLabel("Run:", self))
        header.addWidget(self.run_label, 1)
        header.addWidget(self.job_bar)
        self.run_label.setMinimumHeight(self.cancel_button.sizeHint().height())  # no jump when the bar shows

        self.form = GenerateForm(self)
        self.generate_button = QPushButton("Generate", self)
        self.generate_button.setMinimumHeight(32)
        self.generate_button.setToolTip("Generate the volumes into the run's gallery (RUN/gallery)")
        self.generate_button.clicked.connect(self.generate)
        gen_box = QGroupBox("Generate", self)
        gl = QVBoxLayout(gen_box)
        gl.addWidget(self.form)
        gl.addWidget(self.generate_button)

        self.grid = ThumbnailGrid(self, thumbnail_size=128)
        self.grid.currentChanged.connect(self.show_item)
        self.grid.activated.connect(self.show_item)
        self.grid.selectionChanged.connect(self._update_buttons)
        self.export_button = QPushButton("Export…", self)
        self.export_button.setMinimumHeight(32)
        self.export_button.setToolTip("Export all or the ticked samples as DICOM + SEG, NIfTI and an nnU-Net dataset")
        self.export_button.clicked.connect(self.open_export_dialog)
        samples_box = QGroupBox("Samples", self)
        sl = QVBoxLayout(samples_box)
        sl.addWidget(self.grid, 1)
        sl.addWidget(self.export_button)

        left = QWidget(self)
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(gen_box)
        ll.addWidget(samples_box, 1)
        left.setMinimumWidth(340)

        self.compare_pane = ComparePane(self)
        self.compare = self.compare_pane.view
        self.quality = QualityView(self)
        self.quality.checkRequested.connect(self.check_quality)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.compare_pane, "Compare with real")
        self.tabs.addTab(self.quality, "Quality")

        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([350, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(header)
        layout.addWidget(split, 1)

    def _update_buttons(self) -> None:
        idle = self._job is None
        has_run = self.run is not None
        self.generate_button.setEnabled(idle and has_run)
        self.form.setEnabled(idle and has_run)
        self.export_button.setEnabled(idle and self.grid.count() > 0)
        n_sel = len(self.grid.selected_ids())
        self.export_button.setText(f"Export {n_sel} selected…" if n_sel else "Export…")
        self.quality.set_running(self._job == "quality")
        if self._job != "quality":
            self.quality.check_button.setEnabled(idle and has_run)

    # ------------------------------------------------------------------ the run
    @Slot(object)
    def set_run(self, folder) -> None:
        """Show the gallery of the run ``folder`` (None: no run)."""
        folder = Path(folder) if folder else None
        if self._job is not None:
            self._pending_run = (folder,)  # switch when the running job is over
            self.statusMessage.emit(f"The gallery switches to {folder} when {JOB_TITLES[self._job].lower()} is done.")
            return
        handle = self._threads.get("thumbnails")
        if handle is not None and handle.is_running():
            handle.stop_and_wait()
        self.run = folder
        self.items.clear()
        self.grid.clear()
        self._scan, self._shown_id, self._wanted_id = None, None, None
        self.compare_pane.clear(NO_RUN_HINT)
        self.quality.clear()
        self.report = None
        self._set_run_info(folder)
        self._update_buttons()
        if folder is None:
            return
        self.report = jobs.read_report(jobs.report_folder(folder))
        if self.report is not None:
            self.quality.show_report(self.report, jobs.report_folder(folder))
        worker = EngineWorker(jobs.load_gallery, folder)
        worker.succeeded.connect(self._on_gallery_loaded)
        worker.failed.connect(self._on_gallery_failed)
        self.start_worker("thumbnails", worker)

    def _set_run_info(self, folder: Path | None) -> None:
        self.label_table, self._dataset, self._n_real = None, None, None
        if folder is None:
            self.run_label.setText("none")
            self.form.set_label_table(None)
            return
        run = TrainingRun(folder)
        parts = [str(folder)]
        try:
            self.label_table = run.read_label_table()
            parts.append(run.read_normalization().modality)
            manifest = run.read_manifest()
            self._dataset = Path(manifest["dataset"])
            self._n_real = len(manifest.get("split", {}).get("train_cases", []))
        except (SynthVolError, OSError, KeyError, ValueError) as exc:
            parts.append(f"cannot read the run ({exc})")
        ckpt = latest_checkpoint(run.checkpoints_dir) if run.checkpoints_dir.is_dir() else None
        parts.append(f"generator {ckpt.name}" if ckpt else "no checkpoint yet: train the run first")
        self.run_label.setText("  ·  ".join(parts))
        self.form.set_label_table(self.label_table)
        self.compare_pane.set_hint(GENERATE_HINT, show=True)

    @Slot(object)
    def _on_gallery_loaded(self, contents) -> None:
        if contents is None or contents.run != self.run:
            return  # cancelled, or the gallery of a run no longer shown
        self._add_items(contents.items, contents.thumbnails)
        n = len(contents.items)
        if n:
            self.compare_pane.set_hint(PICK_HINT)
        self.statusMessage.emit(f"Gallery of {self.run.name}: {n} sample{'s' if n != 1 else ''}")

    @Slot(str, str)
    def _on_gallery_failed(self, message: str, details: str) -> None:
        self.statusMessage.emit("The gallery could not be read: " + message)
        show_error(self, "Cannot show the gallery", message, details)

    def _add_items(self, items: list[GalleryItem], thumbnails: list[jobs.Thumbnail]) -> None:
        by_id = {t.item_id: t for t in thumbnails}
        for item in items:
            self.items[item.id] = item
            t = by_id.get(item.id)
            if t is not None:
                self.grid.add(item.id, t.image, t.label, t.caption, t.tooltip, label_table=self.label_table,
                              window=t.window, pixel_aspect=t.pixel_aspect)
        self._update_buttons()

    # ------------------------------------------------------------------ jobs: progress and cancel
    def _start_job(self, kind: str, worker: EngineWorker, message: str) -> None:
        self._job = kind
        worker.progress.connect(self.job_bar.set_progress)
        worker.logMessage.connect(self._on_log)
        worker.done.connect(self._on_job_done)
        self.job_bar.start(JOB_TITLES[kind])
        self._update_buttons()
        self.statusMessage.emit(message)
        self.start_worker(kind, worker)

    @Slot()
    def cancel(self) -> None:
        worker = self.worker(self._job) if self._job else None
        if worker is not None:
            worker.stop()
            self.job_bar.stopping()
            self.statusMessage.emit(f"Stopping {JOB_TITLES[self._job].lower()}…")

    @Slot(str, str)
    def _on_log(self, level: str, text: str) -> None:
        import logging

        logging.getLogger("synthvol.gallery").log(getattr(logging, level.upper(), logging.INFO), text)

    @Slot()
    def _on_job_done(self) -> None:
        self._job = None
        self.job_bar.finish()
        self._update_buttons()
        if self._pending_run is not None:
            (folder,), self._pending_run = self._pending_run, None
            if folder != self.run:
                self.set_run(folder)

    # ------------------------------------------------------------------ generate
    @Slot()
    def generate(self) -> None:
        """Generate what the form says."""
        self.generate_volumes()

    def generate_volumes(self, count: int | None = None) -> None:
        """Generate with the form's settings (``count`` overrides its number of volumes)."""
        if self.run is None or self._job is not None:
            return
        try:
            config = self.form.config(self.run)
            if count is not None:
                config = dataclasses.replace(config, count=int(count)).validate()
        except ConfigError as exc:
            self.form.show_error(str(exc))
            return
        self.form.show_error("")
        worker = EngineWorker(jobs.generate_with_thumbnails, config)
        worker.succeeded.connect(self._on_generated)
        worker.failed.connect(self._on_generate_failed)
        self._start_job("generate", worker, f"Generating {config.count} volume(s) from {self.run.name}…")

    @Slot(object)
    def _on_generated(self, outcome) -> None:
        if outcome is None:
            self.statusMessage.emit("Generation stopped.")
            return
        result = outcome.result
        self._add_items(result.items, outcome.thumbnails)
        n = len(result.items)
        if result.stopped:
            self.statusMessage.emit(f"Generation stopped: {n} volume(s) finished and kept.")
        else:
            self.statusMessage.emit(f"Generated {n} volume(s) in {result.seconds:.1f} s into {result.gallery}")
            self.form.seed.setValue(self.form.seed.value() + 1)  # the next click makes new samples
        if n:
            self.compare_pane.set_hint(PICK_HINT)
            if self._tick_first:
                self.grid.set_checked(result.items[0].id, True)
            if self._shown_id is None:
                self.grid.list.setCurrentRow(self.grid.ids().index(result.items[0].id))
        self._tick_first = False

    @Slot(str, str)
    def _on_generate_failed(self, message: str, details: str) -> None:
        self.statusMessage.emit("Generation failed: " + message.splitlines()[0][:120])
        show_error(self, "Generation failed", message, details)

    # ------------------------------------------------------------------ compare with the real case
    @Slot(str)
    def show_item(self, item_id: str) -> None:
        item = self.items.get(item_id)
        if item is None:
            return
        self.tabs.setCurrentWidget(self.compare_pane)
        self._wanted_id = item_id
        if self.worker("view") is not None:
            return  # one at a time: the newest request loads when this one is done
        worker = EngineWorker(jobs.load_comparison, item, self._dataset, self._scan)
        worker.succeeded.connect(self._on_comparison_loaded)
        worker.failed.connect(self._on_comparison_failed)
        worker.done.connect(self._on_comparison_done)
        self.statusMessage.emit(f"Loading {item_id}…")
        self.start_worker("view", worker)

    @Slot(object)
    def _on_comparison_loaded(self, c) -> None:
        item = self.items.get(c.item_id) if c is not None else None
        if item is None or item.folder != c.folder:
            return  # a sample of a run no longer shown
        if c.scan is not None:
            self._scan = c.scan
        self.compare_pane.show_comparison(c.synthetic, c.real, f"Synthetic: {item.id} ({jobs.describe_source(item)})",
                                          c.real_caption, self.label_table)
        self._shown_id = c.item_id
        self.statusMessage.emit(f"{item.id}: {c.synthetic.image.shape[0]} slices · {c.real_caption}")

    @Slot(str, str)
    def _on_comparison_failed(self, message: str, details: str) -> None:
        self._wanted_id = None
        self.statusMessage.emit(message)
        show_error(self, "Cannot show this sample", message, details)

    @Slot()
    def _on_comparison_done(self) -> None:
        if self._wanted_id is not None and self._wanted_id != self._shown_id and self._wanted_id in self.items:
            self.show_item(self._wanted_id)

    # ------------------------------------------------------------------ export
    @Slot()
    def open_export_dialog(self) -> ExportDialog | None:
        if self.run is None or not self.items or self._job is not None:
            return None
        if not confirm_despite_memorisation(self, self.report):
            return None
        self.export_dialog = ExportDialog(self, len(self.items), len(self.grid.selected_ids()),
                                          default_destination(self.run), self._n_real, quality_note(self.report))
        self.export_dialog.accepted.connect(self._on_export_accepted)
        self.export_dialog.open()
        return self.export_dialog

    @Slot()
    def _on_export_accepted(self) -> None:
        dialog = self.export_dialog
        if dialog is None or self.run is None or self._job is not None:
            return
        try:
            config = dialog.config()
        except ConfigError as exc:  # the dialog validated already; a race with the disk at most
            show_error(self, "Cannot export", str(exc))
            return
        ids = self.grid.selected_ids() if dialog.selected_only() else self.grid.ids()
        remember_destination(config.out_dir)
        self._export_request = (config, len(ids))
        worker = EngineWorker(jobs.export_samples, config, self.run, ids, dialog.with_real(), self.report)
        worker.succeeded.connect(self._on_exported)
        worker.failed.connect(self._on_export_failed)
        self._start_job("export", worker, f"Exporting {len(ids)} sample(s) to {config.out_dir}…")

    @Slot(object)
    def _on_exported(self, result) -> None:
        if result is None:
            self.statusMessage.emit("Export cancelled: nothing was written.")
            return
        config, n_synthetic = self._export_request
        self.statusMessage.emit(f"Exported {result.n_cases} case(s), {result.files} files to {result.out_dir}")
        self.summary_dialog = ExportSummaryDialog(self, result, config.formats, n_synthetic, config.nnunet_dataset)
        self.summary_dialog.open()

    @Slot(str, str)
    def _on_export_failed(self, message: str, details: str) -> None:
        self.statusMessage.emit("Export failed: " + message.splitlines()[0][:120])
        show_error(self, "Export failed", message, details)

    # ------------------------------------------------------------------ quality
    @Slot()
    def check_quality(self) -> None:
        if self.run is None or self._job is not None:
            return
        if not jobs.evaluation_available():
            show_error(self, "Quality report unavailable", "This version of SynthVol cannot compute the quality report yet.")
            return
        self.tabs.setCurrentWidget(self.quality)
        worker = EngineWorker(jobs.run_quality_report, self.run, dict(self.quality_settings))
        worker.succeeded.connect(self._on_quality_ready)
        worker.failed.connect(self._on_quality_failed)
        self._start_job("quality", worker, f"Checking the quality of {self.run.name}…")

    @Slot(object)
    def _on_quality_ready(self, report) -> None:
        if report is None or self.run is None:
            self.quality.clear()
            if self.report is not None and self.run is not None:
                self.quality.show_report(self.report, jobs.report_folder(self.run))
            self.statusMessage.emit("Quality check cancelled.")
            return
        self.report = report
        self.quality.show_report(report, jobs.report_folder(self.run))
        self.statusMessage.emit(f"Quality report written to {jobs.report_folder(self.run)}")

    @Slot(str, str)
    def _on_quality_failed(self, message: str, details: str) -> None:
        self.quality.clear()
        if self.report is not None and self.run is not None:
            self.quality.show_report(self.report, jobs.report_folder(self.run))
        self.statusMessage.emit("Quality check failed: " + message.splitlines()[0][:120])
        show_error(self, "Quality check failed", message, details)

    # ------------------------------------------------------------------ screenshots
    def prepare_screenshot(self) -> None:
        """Fill the gallery for the README picture: two volumes from the opened run if it is empty,
        the first sample beside its real case, one sample ticked (the caller waits on is_busy)."""
        if self.run is None or self._job is not None:
            return
        self.compare.left.set_overlay_opacity(0.25)  # the picture shows the synthetic image (T toggles labels)
        if not self.items:
            self._tick_first = True
            self.form.set_source("augment")  # deformed maps: new anatomy beside the real case
            self.generate_volumes(count=2)
            return
        if self._shown_id is None:
            self.grid.list.setCurrentRow(0)
        self.grid.set_checked(self.grid.ids()[0], True)
