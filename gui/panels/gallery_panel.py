"""Gallery panel: generate synthetic volumes from the current run (training, deformed, rebalanced
or your own label maps) in the background; browse them as thumbnails; compare one with the real
case its label map came from; tick samples and export them (DICOM + SEG, NIfTI, nnU-Net); check
the quality of the synthetic data before it leaves the hospital.

This module holds the long jobs: one at a time (generate, export or quality check) with its
progress and Cancel in the header. The browsing half (layout, run, thumbnails, comparison) is
gui/panels/gallery_view.py; the jobs themselves are engine calls in gui/panels/gallery_jobs.py.
Every worker signal lands on a @Slot method.
"""

from __future__ import annotations

import dataclasses
import logging

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QWidget

from engine.errors import ConfigError
from gui.dialogs.export_dialog import ExportDialog
from gui.dialogs.export_summary import ExportSummaryDialog
from gui.panels import gallery_jobs as jobs
from gui.panels.gallery_export import (
    confirm_despite_memorisation,
    default_destination,
    quality_note,
    recommended_mix,
    remember_destination,
)
from gui.panels.gallery_view import JOB_TITLES, PICK_HINT, GalleryView
from gui.workers.engine_worker import EngineWorker


class GalleryPanel(GalleryView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.quality_settings: dict = {}  # EvaluateConfig overrides (tests use small ones)
        self.export_dialog: ExportDialog | None = None
        self.summary_dialog: ExportSummaryDialog | None = None
        self._export_request: tuple | None = None
        self._tick_first = False
        self.job_bar.cancelRequested.connect(self.cancel)
        self.generate_button.clicked.connect(self.generate)
        self.export_button.clicked.connect(self.open_export_dialog)
        self.quality.checkRequested.connect(self.check_quality)
        self.quality.studyRequested.connect(self.run_study)
        self._study = False  # the running quality job includes the utility study
        self._update_buttons()

    @Slot()
    def _update_buttons(self) -> None:
        super()._update_buttons()
        running = self._job == "quality"
        self.quality.study_section.set_running(running and getattr(self, "_study", False))
        self.quality.study_section.run_button.setEnabled(self.quality.check_button.isEnabled() and not running)

    # ------------------------------------------------------------------ jobs: progress and cancel
    def _start_job(self, kind: str, worker: EngineWorker, message: str) -> None:
        self._job = kind
        worker.progress.connect(self.job_bar.set_progress)
        worker.stateChanged.connect(self.job_bar.show_state)
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
        worker = self.worker_for(jobs.generate_with_thumbnails, config, succeeded=self._on_generated,
                                 failed=self._on_generate_failed)
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
        self.report_failure("Generation failed", message, details)

    # ------------------------------------------------------------------ export
    @Slot()
    def open_export_dialog(self) -> ExportDialog | None:
        if self.run is None or not self.items or self._job is not None:
            return None
        if not confirm_despite_memorisation(self, self.report):
            return None
        self.export_dialog = ExportDialog(self, len(self.items), len(self.grid.selected_ids()),
                                          default_destination(self.run), self._n_real, quality_note(self.report),
                                          recommended_mix(self.report))
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
            self.report_failure("Cannot export", str(exc))
            return
        ids = self.grid.selected_ids() if dialog.selected_only() else self.grid.ids()
        remember_destination(config.out_dir)
        self._export_request = (config, len(ids))
        worker = self.worker_for(jobs.export_samples, config, self.run, ids, dialog.with_real(),
                                 succeeded=self._on_exported, failed=self._on_export_failed)
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
        self.report_failure("Export failed", message, details)

    # ------------------------------------------------------------------ quality
    @Slot()
    def check_quality(self) -> None:
        self._check_quality({})

    @Slot(dict)
    def run_study(self, study: dict) -> None:
        """The quality report with the utility study (``study``: its EvaluateConfig fields)."""
        self._check_quality(dict(study, study=True))

    def _check_quality(self, study: dict) -> None:
        if self.run is None or self._job is not None:
            return
        self.tabs.setCurrentWidget(self.quality)
        self._study = bool(study.get("study"))
        worker = self.worker_for(jobs.run_quality_report, self.run, {**self.quality_settings, **study},
                                 succeeded=self._on_quality_ready, failed=self._on_quality_failed)
        what = "Running the utility study of" if self._study else "Checking the quality of"
        self._start_job("quality", worker, f"{what} {self.run.name}…")

    def _show_saved_report(self) -> None:
        self.quality.clear()
        if self.report is not None and self.run is not None:
            self.quality.show_report(self.report, jobs.report_folder(self.run))

    @Slot(object)
    def _on_quality_ready(self, report) -> None:
        if report is None or self.run is None:
            self._show_saved_report()
            self.statusMessage.emit("Quality check cancelled.")
            return
        self.report = report
        self.quality.show_report(report, jobs.report_folder(self.run))
        self.statusMessage.emit(f"Quality report written to {jobs.report_folder(self.run)}")

    @Slot(str, str)
    def _on_quality_failed(self, message: str, details: str) -> None:
        self._show_saved_report()
        self.report_failure("Quality check failed", message, details)

    # ------------------------------------------------------------------ screenshots
    def prepare_quality_screenshot(self) -> bool:
        """Show the Quality tab at its utility study (or its first cards); False without a report."""
        if self.report is None:
            return False
        self.tabs.setCurrentWidget(self.quality)
        self.quality.scroll_to_study()
        return True

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
