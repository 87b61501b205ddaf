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
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.data.labels import LabelTable
from engine.errors import ConfigError, SynthVolError
from engine.synthesis import GalleryItem
from engine.training.checkpoints import latest_checkpoint
from engine.training.run_folder import TrainingRun
from gui import settings as st
from gui.dialogs.export_dialog import ExportDialog
from gui.dialogs.export_summary import ExportSummaryDialog
from gui.panels import gallery_jobs as jobs
from gui.panels.base import Panel
from gui.panels.generate_form import GenerateForm
from gui.panels.quality_view import QualityView
from gui.widgets.compare_view import SideBySideView
from gui.widgets.error_dialog import show_error
from gui.widgets.thumbnails import ThumbnailGrid
from gui.workers.engine_worker import EngineWorker

JOB_TITLES = {"generate": "Generating", "export": "Exporting", "quality": "Checking quality"}
NO_RUN_HINT = ("Train a run (Training panel) or open one (File ▸ Open run…) to generate synthetic volumes.")
PICK_HINT = "Click a sample to see it beside the real case its label map came from."


def _fmt_eta(seconds: float) -> str:
    if seconds < 0:
        return ""
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"ETA {h}:{m:02d}:{s:02d}" if h else f"ETA {m}:{s:02d}"


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
        self._pending_run: Path | None = None
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
        self.progress = QProgressBar(self)
        self.progress.setMinimumWidth(260)
        self.progress.setMaximumWidth(360)
        self.progress.hide()
        self.eta_label = QLabel("", self)
        self.eta_label.setStyleSheet("color: gray;")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the running job (finished volumes are kept; a partial export is removed)")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        header = QHBoxLayout()
        header.addWidget(QLabel("Run:", self))
        header.addWidget(self.run_label, 1)
        header.addWidget(self.progress)
        header.addWidget(self.eta_label)
        header.addWidget(self.cancel_button)

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

        self.compare = SideBySideView("Synthetic", "Real source", self)
        self.compare_hint = QLabel(NO_RUN_HINT, self)
        self.compare_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.compare_hint.setWordWrap(True)
        self.compare_hint.setStyleSheet("color: gray; font-size: 14px;")
        self.compare_pages = QStackedWidget(self)
        self.compare_pages.addWidget(self.compare_hint)
        self.compare_pages.addWidget(self.compare)
        self.quality = QualityView(self)
        self.quality.checkRequested.connect(self.check_quality)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.compare_pages, "Compare with real")
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
            self._pending_run = folder  # switch when the running job is over
            self.statusMessage.emit(f"The gallery switches to {folder} when {JOB_TITLES[self._job].lower()} is done.")
            return
        handle = self._threads.get("thumbnails")
        if handle is not None and handle.is_running():
            handle.stop_and_wait()
        self.run = folder
        self.items.clear()
        self.grid.clear()
        self._scan, self._shown_id, self._wanted_id = None, None, None
        self.compare.left.clear()
        self.compare.right.clear()
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
            self.compare_hint.setText(NO_RUN_HINT)
            self.compare_pages.setCurrentIndex(0)
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
        self.compare_hint.setText("Generate volumes (left) to see them here.")
        self.compare_pages.setCurrentIndex(0)

    @Slot(object)
    def _on_gallery_loaded(self, contents) -> None:
        if contents is None or contents.run != self.run:
            return  # cancelled, or the gallery of a run no longer shown
        self._add_items(contents.items, contents.thumbnails)
        n = len(contents.items)
        if n:
            self.compare_hint.setText(PICK_HINT)
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
        worker.progress.connect(self._on_progress)
        worker.logMessage.connect(self._on_log)
        worker.done.connect(self._on_job_done)
        self.progress.setRange(0, 0)
        self.progress.setFormat(JOB_TITLES[kind] + "…")
        self.progress.show()
        self.eta_label.setText("")
        self.cancel_button.setEnabled(True)
        self.cancel_button.show()
        self._update_buttons()
        self.statusMessage.emit(message)
        self.start_worker(kind, worker)

    @Slot()
    def cancel(self) -> None:
        worker = self.worker(self._job) if self._job else None
        if worker is not None:
            worker.stop()
            self.cancel_button.setEnabled(False)
            self.progress.setFormat("Stopping…")
            self.statusMessage.emit(f"Stopping {JOB_TITLES[self._job].lower()}…")

    @Slot(int, int, str, float, float)
    def _on_progress(self, done: int, total: int, message: str, _rate: float, eta: float) -> None:
        if not self.cancel_button.isEnabled():
            return  # stopping: keep saying so
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.progress.setFormat(message[:60] if message else f"{done}/{total}")
        self.progress.setToolTip(message)
        self.eta_label.setText(_fmt_eta(eta))

    @Slot(str, str)
    def _on_log(self, level: str, text: str) -> None:
        import logging

        logging.getLogger("synthvol.gallery").log(getattr(logging, level.upper(), logging.INFO), text)

    @Slot()
    def _on_job_done(self) -> None:
        self._job = None
        self.progress.hide()
        self.eta_label.setText("")
        self.cancel_button.hide()
        self._update_buttons()
        if self._pending_run is not None:
            folder, self._pending_run = self._pending_run, None
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
            self.compare_hint.setText(PICK_HINT)
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
        self.tabs.setCurrentWidget(self.compare_pages)
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
        if item is None:
            return
        if c.scan is not None:
            self._scan = c.scan
        s = c.synthetic
        left = dict(image=s.image, spacing=s.spacing, label=s.label, label_table=self.label_table, window=s.window,
                    modality=s.modality, origin=s.origin, direction=s.direction)
        self.compare_pages.setCurrentWidget(self.compare)
        if c.real is not None:
            r = c.real
            right = dict(image=r.image, spacing=r.spacing, label=r.label, label_table=self.label_table,
                         window=r.window, modality=r.modality, origin=r.origin, direction=r.direction)
            self.compare.set_volumes(left, right)
        else:
            self.compare.left.set_volume(**left)
            self.compare.right.clear()
        self.compare.set_captions(f"Synthetic: {item.id} ({jobs.describe_source(item)})", c.real_caption)
        self._shown_id = c.item_id
        self.statusMessage.emit(f"{item.id}: {s.image.shape[0]} slices · {c.real_caption}")

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
        flagged = jobs.memorisation_flagged(self.report)
        if flagged:
            answer = QMessageBox.question(
                self,
                "Memorisation flagged",
                f"The latest quality report flags {flagged} synthetic slice(s) as closer to a training slice "
                "than real patients ever are to each other: they may reproduce a real patient.\n\n"
                "Export anyway?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return None
        note = ("The latest quality report's numbers go into manifest.json." if self.report else
                "No quality report yet: manifest.json will hold no quality numbers (Quality tab ▸ Check quality).")
        self.export_dialog = ExportDialog(self, len(self.items), len(self.grid.selected_ids()),
                                          self._default_destination(), self._n_real, note)
        self.export_dialog.accepted.connect(self._on_export_accepted)
        self.export_dialog.open()
        return self.export_dialog

    def _default_destination(self) -> Path:
        settings = st.app_settings()
        parent = Path(str(settings.value("export/parent", str(Path.home() / "SynthVol exports"))))
        base = f"{self.run.name}-synthetic" if self.run else "synthetic"
        candidate, n = parent / base, 2
        while candidate.exists():
            candidate, n = parent / f"{base}-{n}", n + 1
        return candidate

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
        st.app_settings().setValue("export/parent", str(Path(config.out_dir).parent))
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
        if not self.items:
            self._tick_first = True
            self.generate_volumes(count=2)
            return
        if self._shown_id is None:
            self.grid.list.setCurrentRow(0)
        self.grid.set_checked(self.grid.ids()[0], True)
