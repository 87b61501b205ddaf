"""The browsing half of the Gallery panel: the layout, the run shown (its label table, dataset and
generator), its samples as thumbnails, and a sample beside the real case its label map came from.
Thumbnails and the comparison load in their own light workers; the long jobs (generate, export,
quality check) are the other half, gui/panels/gallery_panel.py."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.data.labels import LabelTable
from engine.errors import SynthVolError
from engine.synthesis import GalleryItem
from engine.training.run_folder import TrainingRun
from gui.panels import gallery_jobs as jobs
from gui.panels.base import Panel, header_and_panes
from gui.panels.gallery_compare import ComparePane
from gui.panels.gallery_jobbar import JobBar
from gui.panels.generate_form import GenerateForm
from gui.panels.quality_view import QualityView
from gui.widgets.thumbnails import ThumbnailGrid

JOB_TITLES = {"generate": "Generating", "export": "Exporting", "quality": "Checking quality"}
NO_RUN_HINT = "Train a run (Training panel) or open one (File ▸ Open run…) to generate synthetic volumes."
GENERATE_HINT = "Generate volumes (left) to see them here, beside the real cases their label maps came from."
PICK_HINT = "Click a sample to see it beside the real case its label map came from."


class GalleryView(Panel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: Path | None = None
        self.label_table: LabelTable | None = None
        self.items: dict[str, GalleryItem] = {}
        self.report: dict | None = None
        self._job: str | None = None  # the long job running: generate | export | quality
        self._pending_run: tuple[Path | None] | None = None  # (folder,) to show when the job ends
        self._dataset: Path | None = None
        self._scan = None
        self._n_real: int | None = None
        self._shown_id: str | None = None
        self._wanted_id: str | None = None
        self._build()
        self._set_run_info(None)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.run_label = QLabel("", self)
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # a long path never widens the window
        self.job_bar = JobBar(self)
        self.progress, self.cancel_button = self.job_bar.progress, self.job_bar.cancel_button
        header = QHBoxLayout()
        header.addWidget(QLabel("Run:", self))
        header.addWidget(self.run_label, 1)
        header.addWidget(self.job_bar)
        self.run_label.setMinimumHeight(self.cancel_button.sizeHint().height())  # no jump when the bar shows

        self.form = GenerateForm(self)
        self.generate_button = QPushButton("Generate", self)
        self.generate_button.setMinimumHeight(32)
        self.generate_button.setToolTip("Generate the volumes into the run's gallery")
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
        self.export_button.setToolTip(
            "Export all or the ticked samples as DICOM + SEG, NIfTI and an nnU-Net dataset"
        )
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
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.compare_pane, "Compare with real")
        self.tabs.addTab(self.quality, "Quality")

        header_and_panes(self, header, left, self.tabs, (350, 900))

    @Slot()
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
            self.statusMessage.emit(
                f"The gallery switches to {folder} when {JOB_TITLES[self._job].lower()} is done."
            )
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
        worker = self.worker_for(
            jobs.load_gallery, folder, succeeded=self._on_gallery_loaded, failed=self._on_gallery_failed
        )
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
            self._dataset = run.dataset_folder()
            self._n_real = len(run.read_split().train_cases)
        except (SynthVolError, OSError, KeyError, ValueError) as exc:
            parts.append(f"cannot read the run ({exc})")
        ckpt = run.latest_checkpoint()
        parts.append(f"generator {ckpt.name}" if ckpt else "no checkpoint yet: train the run first")
        self.run_label.setText("  ·  ".join(parts))
        self.run_label.setToolTip("  ·  ".join(parts))
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
        self.report_failure("Cannot show the gallery", message, details)

    def _add_items(self, items: list[GalleryItem], thumbnails: list[jobs.Thumbnail]) -> None:
        by_id = {t.item_id: t for t in thumbnails}
        for item in items:
            self.items[item.id] = item
            t = by_id.get(item.id)
            if t is not None:
                self.grid.add(
                    item.id,
                    t.image,
                    t.label,
                    t.caption,
                    t.tooltip,
                    label_table=self.label_table,
                    window=t.window,
                    pixel_aspect=t.pixel_aspect,
                )
        self._update_buttons()

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
        worker = self.worker_for(
            jobs.load_comparison,
            item,
            self._dataset,
            self._scan,
            succeeded=self._on_comparison_loaded,
            failed=self._on_comparison_failed,
            done=self._on_comparison_done,
        )
        self.statusMessage.emit(f"Loading {item_id}…")
        self.start_worker("view", worker)

    @Slot(object)
    def _on_comparison_loaded(self, c) -> None:
        item = self.items.get(c.item_id) if c is not None else None
        if item is None or item.folder != c.folder:
            return  # a sample of a run no longer shown
        if c.scan is not None:
            self._scan = c.scan
        self.compare_pane.show_comparison(
            c.synthetic,
            c.real,
            jobs.synthetic_caption(item),
            c.real_caption,
            self.label_table,
        )
        self._shown_id = c.item_id
        self.statusMessage.emit(f"{item.id}: {c.synthetic.image.shape[0]} slices · {c.real_caption}")

    @Slot(str, str)
    def _on_comparison_failed(self, message: str, details: str) -> None:
        self._wanted_id = None
        self.report_failure("Cannot show this sample", message, details)

    @Slot()
    def _on_comparison_done(self) -> None:
        if (
            self._wanted_id is not None
            and self._wanted_id != self._shown_id
            and self._wanted_id in self.items
        ):
            self.show_item(self._wanted_id)
