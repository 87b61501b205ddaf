"""The Runs view: every training run of a folder in one table (dataset, preset, image size,
iterations, best validation, device, time, state, quality verdicts), the validation curves of the
ticked runs overlaid, and Open / Resume for the selected run, so two settings are compared without
a terminal. The listing is engine.evaluation.runs_index.list_runs, run in a worker; the window
opens or resumes a run through the Training panel (``openRequested`` / ``resumeRequested``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.evaluation.runs_index import list_runs
from gui import settings as st
from gui.panels.base import Panel
from gui.panels.runs_plot import RunsPlot
from gui.panels.runs_table import RunsTable

FOLDER_KEY = "runs/folder"
EMPTY_HINT = "No training runs in this folder yet: train one (Training panel), or choose the folder that holds your runs."


class RunsPanel(Panel):
    openRequested = Signal(object)  # Path of a run folder: show it in the Training and Gallery panels
    resumeRequested = Signal(object)  # Path of a run folder: open it and resume its training

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder: Path | None = None
        self.runs = []
        self._stale = True
        self._pending = False
        self._wanted: Path | None = None  # the run to select once listed
        self._tick_when_listed = False
        self.folder_edit = QLineEdit(self)
        self.folder_edit.setPlaceholderText("The folder that holds your training runs")
        self.folder_edit.returnPressed.connect(self._on_folder_typed)
        self.browse_button = QPushButton("Choose folder…", self)
        self.browse_button.clicked.connect(self.choose_folder)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setToolTip("Read the runs of the folder again (F5)")
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.refresh)
        header = QHBoxLayout()
        header.addWidget(QLabel("Runs in:", self))
        header.addWidget(self.folder_edit, 1)
        header.addWidget(self.browse_button)
        header.addWidget(self.refresh_button)

        self.table = RunsTable(self)
        self.table.checkedChanged.connect(self._on_checked_changed)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.openRequested.connect(self._open_folder)
        self.summary = QLabel("", self)
        self.summary.setStyleSheet("color: gray;")
        self.summary.setWordWrap(True)
        self.open_button = QPushButton("Open", self)
        self.open_button.setToolTip("Show the selected run in the Training and Gallery panels (double-click a row)")
        self.open_button.clicked.connect(self.open_selected)
        self.resume_button = QPushButton("Resume training", self)
        self.resume_button.setToolTip("Open the selected run and go on training it from its last checkpoint")
        self.resume_button.clicked.connect(self.resume_selected)
        for b in (self.open_button, self.resume_button):
            b.setMinimumHeight(30)
        actions = QHBoxLayout()
        actions.addWidget(self.summary, 1)
        actions.addWidget(self.open_button)
        actions.addWidget(self.resume_button)
        top = QWidget(self)
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.table, 1)
        tl.addLayout(actions)

        self.plot = RunsPlot(self)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(top)
        split.addWidget(self.plot)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([320, 480])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(header)
        layout.addWidget(split, 1)
        saved = str(st.app_settings().value(FOLDER_KEY, "") or "")
        self._set_folder(Path(saved) if saved else st.default_runs_dir(), remember=False)
        self._update_buttons()

    # ------------------------------------------------------------------ the folder
    def _set_folder(self, folder: Path, remember: bool = True) -> None:
        self.folder = Path(folder).expanduser()
        self.folder_edit.setText(str(self.folder))
        self._stale = True
        if remember:
            st.app_settings().setValue(FOLDER_KEY, str(self.folder))

    def set_folder(self, folder: Path) -> None:
        """List the runs of ``folder`` (and remember it)."""
        self._set_folder(folder)
        self.refresh()

    @Slot()
    def choose_folder(self) -> None:
        start = self.folder if self.folder and self.folder.is_dir() else Path.home()
        folder = QFileDialog.getExistingDirectory(self, "Folder of training runs", str(start))
        if folder:
            self.set_folder(Path(folder))

    @Slot()
    def _on_folder_typed(self) -> None:
        text = self.folder_edit.text().strip()
        if text:
            self.set_folder(Path(text))

    @Slot(object)
    def note_run(self, folder) -> None:
        """A run was opened or trained in the window: list its folder's runs next time (the folder
        of runs becomes its parent when none was chosen yet) and select it."""
        if not folder:
            return
        folder = Path(folder)
        self._wanted = folder
        if not str(st.app_settings().value(FOLDER_KEY, "") or "") and self.folder != folder.parent:
            self._set_folder(folder.parent, remember=False)
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    # ------------------------------------------------------------------ listing
    @Slot()
    def refresh(self) -> None:
        if self.folder is None:
            return
        if self.worker("list") is not None:
            self._pending = True  # list again when this listing is done
            return
        self._stale = False
        self.summary.setText(f"Reading the runs in {self.folder}…")
        worker = self.worker_for(list_runs, self.folder, succeeded=self._on_listed, failed=self._on_list_failed,
                                 done=self._on_list_done)
        self.start_worker("list", worker)

    @Slot(object)
    def _on_listed(self, runs) -> None:
        if runs is None:
            return
        checked = set(self.table.checked())
        self.runs = list(runs)
        self.table.set_runs(self.runs, checked)
        if self._wanted is not None and self.table.row_of(self._wanted) >= 0:
            self.table.select(self._wanted)
            self._wanted = None
        elif self.table.currentRow() < 0 and self.runs:
            self.table.selectRow(0)
        if self._tick_when_listed:
            self._tick_when_listed = False
            self.prepare_screenshot()
        unreadable = sum(r.problem is not None for r in self.runs)
        if not self.runs:
            self.summary.setText(EMPTY_HINT)
        else:
            text = f"{len(self.runs)} run{'s' if len(self.runs) != 1 else ''} in {self.folder}"
            self.summary.setText(text + (f"; {unreadable} cannot be read (hover for why)" if unreadable else "")
                                 + ". Tick runs to compare their curves.")
        self.statusMessage.emit(f"Runs: {len(self.runs)} in {self.folder}")
        self._update_buttons()

    @Slot(str, str)
    def _on_list_failed(self, message: str, details: str) -> None:
        self.summary.setText("")
        self.report_failure("Cannot list the runs", message, details)

    @Slot()
    def _on_list_done(self) -> None:
        if self._pending:
            self._pending = False
            self.refresh()

    # ------------------------------------------------------------------ selection and actions
    @Slot()
    def _on_checked_changed(self) -> None:
        by_folder = {r.folder: r for r in self.runs}
        self.plot.show_runs([by_folder[f] for f in self.table.checked() if f in by_folder])

    @Slot()
    def _update_buttons(self) -> None:
        run = self.table.current()
        readable = run is not None and run.problem is None
        self.open_button.setEnabled(readable and not run.busy)
        self.resume_button.setEnabled(readable and run.can_resume)
        if run is not None and run.busy:
            self.open_button.setToolTip(f"{run.name} is in use ({run.state}) by another process.")
        elif run is not None and run.problem:
            self.open_button.setToolTip(run.problem)
        else:
            self.open_button.setToolTip("Show the selected run in the Training and Gallery panels (double-click a row)")

    @Slot()
    def open_selected(self) -> None:
        run = self.table.current()
        if run is not None and run.problem is None:
            self.openRequested.emit(run.folder)

    @Slot()
    def resume_selected(self) -> None:
        run = self.table.current()
        if run is not None and run.can_resume:
            self.resumeRequested.emit(run.folder)

    @Slot(object)
    def _open_folder(self, folder) -> None:
        self.openRequested.emit(Path(folder))

    def prepare_screenshot(self) -> None:
        """Tick two runs of one dataset (the newest such pair; else the two newest) for the README
        picture (the caller waits on is_busy)."""
        if self.worker("list") is not None or self._stale:
            self._tick_when_listed = True
            if self.worker("list") is None:
                self.refresh()
            return
        with_curves = [r for r in self.runs if r.curves]
        pair = next(([a, b] for i, a in enumerate(with_curves) for b in with_curves[i + 1:]
                     if a.dataset_path and a.dataset_path == b.dataset_path), with_curves[:2])
        for run in pair:
            self.table.set_checked(run.folder, True)
