"""Dataset panel: open a folder, scan it in the background, list every case (and every skipped
file with its reason), the label table, and a slice viewer with image info and header tags."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.data import discover
from engine.data.cases import CaseRef, ScanResult
from engine.data.viewing import load_for_view
from gui.panels.base import Panel
from gui.panels.case_details import HeaderTags, ImageInfo
from gui.panels.welcome import WelcomePage
from gui.widgets.label_overlay import swatch_icon
from gui.widgets.skipped_files import SkippedFiles
from gui.widgets.slice_view import SliceView
from gui.widgets.volume_input import view_volume_args

CASE_COLUMNS = ("ID", "Modality", "Size", "Spacing (mm)", "Labels", "Status", "Details")
ERROR_COLOR = QColor(235, 110, 100)
WARN_COLOR = QColor(230, 180, 90)


class DatasetPanel(Panel):
    datasetLoaded = Signal(object)  # ScanResult
    openDemoRequested = Signal()
    openDatasetRequested = Signal()
    trainRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: ScanResult | None = None
        self._case_shown: str | None = None
        self.pages = QStackedWidget(self)
        self.welcome = WelcomePage(self)
        self.welcome.openDatasetRequested.connect(self.openDatasetRequested)
        self.welcome.openDemoRequested.connect(self.openDemoRequested)
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self._build_main())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

    # ------------------------------------------------------------------ layout
    def _build_main(self) -> QWidget:
        page = QWidget(self)
        self.path_label = QLabel("", page)
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.summary_label = QLabel("", page)
        font = self.summary_label.font()
        font.setBold(True)
        self.summary_label.setFont(font)
        self.open_button = QPushButton("Open…", page)
        self.open_button.clicked.connect(self.openDatasetRequested)
        self.rescan_button = QPushButton("Rescan", page)
        self.rescan_button.clicked.connect(self._rescan)
        self.progress = QProgressBar(page)
        self.progress.setMaximumWidth(260)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", page)
        self.cancel_button.clicked.connect(self._cancel_scan)
        self.cancel_button.hide()
        self.train_button = QPushButton("Train on this dataset  →", page)
        self.train_button.setEnabled(False)
        self.train_button.clicked.connect(self.trainRequested)
        header = QHBoxLayout()
        header.addWidget(QLabel("Dataset:", page))
        header.addWidget(self.path_label, 1)
        header.addWidget(self.progress)
        header.addWidget(self.cancel_button)
        header.addWidget(self.open_button)
        header.addWidget(self.rescan_button)

        self.case_table = QTableWidget(0, len(CASE_COLUMNS), page)
        self.case_table.setHorizontalHeaderLabels(CASE_COLUMNS)
        self.case_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.case_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.case_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.case_table.verticalHeader().hide()
        self.case_table.setAlternatingRowColors(True)
        self.case_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.case_table.horizontalHeader().setStretchLastSection(True)
        self.case_table.itemSelectionChanged.connect(self._on_case_selected)

        self.label_table = QTableWidget(0, 3, page)
        self.label_table.setHorizontalHeaderLabels(("Value", "Name", "Cases"))
        self.label_table.verticalHeader().hide()
        self.label_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.label_table.horizontalHeader().setStretchLastSection(True)

        self.skipped = SkippedFiles(page)
        self.viewer = SliceView(page)
        self.info = ImageInfo(page)
        self.tags = HeaderTags(page)
        self.tabs = QTabWidget(page)
        self.tabs.addTab(self.viewer, "Slices")
        self.tabs.addTab(self.info, "Image info")
        self.tabs.addTab(self.tags, "Header tags")

        # The case table on top, as tall as its rows (and the skipped files below it, all readable);
        # the label table beside the viewer below, which takes every pixel the table leaves.
        cases_box = QWidget(page)
        cl = QVBoxLayout(cases_box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.summary_label)
        cl.addWidget(self.case_table, 1)
        cl.addWidget(self.skipped)
        labels_box = QWidget(page)
        ll = QVBoxLayout(labels_box)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("Labels", labels_box))
        ll.addWidget(self.label_table, 1)
        ll.addWidget(self.train_button)
        labels_box.setMinimumWidth(220)
        self.lower = QSplitter(Qt.Orientation.Horizontal, page)
        self.lower.addWidget(labels_box)
        self.lower.addWidget(self.tabs)
        self.lower.setStretchFactor(0, 0)
        self.lower.setStretchFactor(1, 1)
        self.lower.setSizes([260, 1000])
        self.split = QSplitter(Qt.Orientation.Vertical, page)
        self.split.addWidget(cases_box)
        self.split.addWidget(self.lower)
        self.split.setStretchFactor(0, 0)
        self.split.setStretchFactor(1, 1)
        self.split.setChildrenCollapsible(False)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(header)
        layout.addWidget(self.split, 1)
        return page

    def fit_case_table(self) -> None:
        """Give the case table the height of its rows (at most 40 % of the panel; it scrolls
        beyond), so a dataset of two cases leaves the rest of the height to the viewer."""
        table = self.case_table
        rows = table.rowCount()
        row_h = table.verticalHeader().defaultSectionSize() if rows == 0 else table.rowHeight(0)
        needed = table.horizontalHeader().height() + max(rows, 1) * row_h + 2 * table.frameWidth() + 4
        if table.horizontalScrollBar().isVisible() or table.horizontalScrollBar().maximum() > 0:
            needed += table.horizontalScrollBar().sizeHint().height()
        extra = self.summary_label.sizeHint().height() + (self.skipped.height() if self.skipped.isVisible() else 0) + 12
        total = max(self.split.height(), 1)
        top = min(needed + extra, int(total * 0.4)) if total > 1 else needed + extra
        self.case_table.setMinimumHeight(min(needed, 3 * row_h + table.horizontalHeader().height()))
        self.split.setSizes([top, max(1, total - top)])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.result is not None:
            self.fit_case_table()

    # ------------------------------------------------------------------ scanning
    def open_dataset(self, folder: Path) -> None:
        if self.worker("scan") is not None:
            self.worker("scan").stop()
            self._threads["scan"].stop_and_wait()
        self.pages.setCurrentIndex(1)
        self.path_label.setText(str(folder))
        self.path_label.setToolTip(str(folder))
        self.summary_label.setText("Scanning…")
        self.case_table.setRowCount(0)
        self.label_table.setRowCount(0)
        self.skipped.show_result(None)
        self.viewer.clear()
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.rescan_button.setEnabled(False)
        self.train_button.setEnabled(False)
        worker = self.worker_for(discover, Path(folder), succeeded=self._on_scan_done, failed=self._on_scan_failed,
                                 done=self._on_scan_finished)
        worker.progress.connect(self._on_scan_progress)
        self.statusMessage.emit(f"Scanning {folder}…")
        self.start_worker("scan", worker)

    @Slot()
    def _rescan(self) -> None:
        if self.path_label.text():
            self.open_dataset(Path(self.path_label.text()))

    @Slot()
    def _cancel_scan(self) -> None:
        w = self.worker("scan")
        if w is not None:
            w.stop()

    @Slot(int, int, str, float, float)
    def _on_scan_progress(self, done: int, total: int, message: str, _rate: float, _eta: float) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total}")
        self.statusMessage.emit(message)

    @Slot(object)
    def _on_scan_done(self, result) -> None:
        if result is None:  # cancelled
            self.summary_label.setText("Scan cancelled.")
            return
        self.result = result
        self._fill_cases(result)
        self._fill_labels(result)
        self.summary_label.setText(result.summary())
        self.skipped.show_result(result)
        self.fit_case_table()
        self.train_button.setEnabled(bool(result.usable_cases))
        self.statusMessage.emit(f"{result.root}: {result.summary()}")
        first = next((i for i, c in enumerate(result.cases) if c.ok), None)
        if first is not None:
            self.case_table.selectRow(first)
        self.datasetLoaded.emit(result)

    @Slot(str, str)
    def _on_scan_failed(self, message: str, details: str) -> None:
        self.summary_label.setText("The folder could not be scanned.")
        self.report_failure("Cannot open the dataset", message, details)

    @Slot()
    def _on_scan_finished(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.rescan_button.setEnabled(True)

    def _fill_cases(self, result: ScanResult) -> None:
        table = self.case_table
        table.setSortingEnabled(False)
        table.setRowCount(len(result.cases))
        for row, case in enumerate(result.cases):
            g = case.geometry
            status = "ok" if case.usable else ("unlabeled" if case.ok else "error")
            if case.ok and case.label_resampled:
                status = "ok (label resampled)"
            details = case.error or "; ".join(case.warnings)
            cells = (
                case.id,
                case.modality_text,
                " × ".join(map(str, g.size)) if g else "-",
                " × ".join(f"{v:.3g}" for v in g.spacing) if g else "-",
                ", ".join(map(str, case.label_values)) or "-",
                status,
                details,
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, case.id)
                if details:
                    item.setToolTip(details)
                if not case.ok:
                    item.setForeground(QBrush(ERROR_COLOR))
                elif col == 5 and case.label is None:
                    item.setForeground(QBrush(WARN_COLOR))
                table.setItem(row, col, item)
        table.resizeColumnsToContents()
        table.setColumnWidth(6, max(200, table.columnWidth(6)))

    def _fill_labels(self, result: ScanResult) -> None:
        values = result.label_table.values
        self.label_table.setRowCount(len(values))
        for row, v in enumerate(values):
            info = result.label_table.entries[v]
            n_cases = sum(1 for c in result.cases if c.ok and v in c.label_values)
            value_item = QTableWidgetItem(str(v))
            value_item.setIcon(swatch_icon(info.color, 14))
            self.label_table.setItem(row, 0, value_item)
            self.label_table.setItem(row, 1, QTableWidgetItem(info.name))
            self.label_table.setItem(row, 2, QTableWidgetItem(str(n_cases)))
        self.label_table.resizeColumnsToContents()

    # ------------------------------------------------------------------ one case
    def selected_case(self) -> CaseRef | None:
        rows = self.case_table.selectionModel().selectedRows() if self.case_table.selectionModel() else []
        if not rows or self.result is None:
            return None
        case_id = self.case_table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        return self.result.case(case_id)

    @Slot()
    def _on_case_selected(self) -> None:
        case = self.selected_case()
        if case is None:
            return
        self.info.show_case(case)
        self.tags.show_case(case)
        if not case.ok:
            self.viewer.clear()
            return
        if self.worker("view") is not None:
            return  # one at a time; the newest selection loads when this one is done
        self._case_shown = case.id
        worker = self.worker_for(_load_view, case, succeeded=self._on_view_loaded, failed=self._on_view_failed,
                                 done=self._on_view_finished)
        self.statusMessage.emit(f"Loading {case.id}…")
        self.start_worker("view", worker)

    @Slot(object)
    def _on_view_loaded(self, view) -> None:
        if view is None:
            return
        self.viewer.set_volume(**view_volume_args(view, self.result.label_table if self.result else None))
        case = self.selected_case()
        if case is not None and case.id == view.title:
            self.info.show_case(case, view)
        self.statusMessage.emit(f"{view.title}: {view.image.shape[0]} slices")

    @Slot(str, str)
    def _on_view_failed(self, message: str, details: str) -> None:
        self.viewer.clear()
        self.report_failure("Cannot show this case", message, details)

    @Slot()
    def _on_view_finished(self) -> None:
        case = self.selected_case()
        if case is not None and case.ok and case.id != self._case_shown:
            self._on_case_selected()

    def prepare_screenshot(self) -> None:
        """The README picture shows a sagittal slice: the face on the left, as in Slicer."""
        if self.viewer.has_volume():
            self.viewer.set_orientation("sagittal")


def _load_view(case: CaseRef, on_event=None, control=None):
    """load_for_view in the engine-contract shape the worker expects."""
    return load_for_view(case)
