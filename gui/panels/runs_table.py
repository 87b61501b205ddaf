"""The Runs view's table: one row per run of the folder (engine.evaluation.runs_index.RunSummary),
sortable by any column, a tick box per row for the curves to overlay, the quality verdicts as
coloured marks. It shows what the summaries say and computes nothing."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QWidget

from engine.evaluation.runs_index import RunSummary

COLUMNS = ("Run", "Dataset", "Preset", "Image size", "Iterations", "Best validation", "PSNR", "Device", "Time",
           "State", "Quality")
QUALITY_COLUMN = COLUMNS.index("Quality")
VERDICT_NAMES = {  # measure -> (short mark, name)
    "fidelity": ("Fid", "fidelity"),
    "intensity_w1": ("Int", "intensity realism"),
    "diversity": ("Div", "diversity"),
    "memorization": ("Mem", "memorisation"),
    "tstr": ("Use", "utility (train on synthetic)"),
    "realism": ("Rea", "realism"),
    "utility_study": ("Std", "utility study"),
}
STATUS_COLORS = {"good": "#6ec878", "fair": "#e6b45a", "poor": "#eb6e64", "warning": "#eb6e64"}
STATE_COLORS = {"training": "#4aa3ff", "interrupted": "#e6b45a"}
DEVICE_CHARS = 32
_SORT_ROLE = Qt.ItemDataRole.UserRole + 1
_FOLDER_ROLE = Qt.ItemDataRole.UserRole


class SortItem(QTableWidgetItem):
    """A cell that sorts by the value it was given (numbers as numbers, missing values first)."""

    def __lt__(self, other) -> bool:
        a, b = self.data(_SORT_ROLE), other.data(_SORT_ROLE)
        if a is None or b is None:
            return a is None and b is not None
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def short_device(device: str) -> str:
    """``AMD EPYC (2 cores), 1 compute thread (...)`` -> ``AMD EPYC (2 cores)`` (the rest in the tooltip)."""
    text = device.split(", ")[0].strip() if device else ""
    return (text[:DEVICE_CHARS - 1] + "…" if len(text) > DEVICE_CHARS else text) or "–"


def row_cells(s: RunSummary) -> list[tuple[str, object, str]]:
    """(text, sort value, tooltip) of each column but Quality."""
    planned = f" / {s.iterations:,}" if s.iterations is not None else ""
    ssim = s.best.get("val_ssim")
    psnr = s.best.get("val_psnr")
    if s.problem:
        return [(s.name, s.name, s.problem)] + [("", None, "")] * 8 + [("unreadable", "unreadable", s.problem)]
    return [
        (s.name, s.name, f"{s.folder}\nstarted {s.started.replace('T', ' ')[:19] or 'unknown'}"),
        (s.dataset or "–", s.dataset, s.dataset_path or "The run does not record its dataset."),
        (s.preset or "–", s.preset, ""),
        (f"{s.image_size} px" if s.image_size else "–", s.image_size, "training crop size"),
        (f"{s.iteration:,}{planned}", s.iteration, "last logged iteration / planned"),
        (f"SSIM {ssim[1]:.3f} @ {ssim[0]:,}" if ssim else "–", ssim[1] if ssim else None,
         "best validation SSIM and its iteration (1 = identical to the real slice)"),
        (f"{psnr[1]:.1f} dB" if psnr else "–", psnr[1] if psnr else None, f"best validation PSNR, at iteration {psnr[0]:,}"
         if psnr else ""),
        (short_device(s.device), s.device, s.device),
        (format_seconds(s.seconds), s.seconds, "training time (paused time left out)"),
        (s.state or "–", s.state, _state_tip(s)),
    ]


def _state_tip(s: RunSummary) -> str:
    if s.state == "interrupted":
        return "Stopped without finishing (the process ended): resume it from its last checkpoint."
    if s.state == "training":
        return "A trainer holds the run's lock now."
    return "Resume continues from the last checkpoint." if s.can_resume else ""


def quality_html(verdicts: dict[str, str]) -> tuple[str, str]:
    """(rich text of coloured marks, tooltip) of a run's quality verdicts."""
    if not verdicts:
        return "<span style='color: gray;'>no report</span>", "No quality report yet (Gallery ▸ Quality ▸ Check quality)."
    marks, lines = [], []
    for key, status in verdicts.items():
        short, name = VERDICT_NAMES.get(key, (key[:3].title(), key))
        color = STATUS_COLORS.get(status, "gray")
        marks.append(f"<span style='color: {color};'>●</span>{escape(short)}")
        lines.append(f"{name}: {status}")
    return " ".join(marks), "\n".join(lines)


class RunsTable(QTableWidget):
    """``checkedChanged``: the set of ticked runs changed; ``openRequested``: double-click."""

    checkedChanged = Signal()
    openRequested = Signal(object)  # Path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.summaries: dict[Path, RunSummary] = {}
        self.itemChanged.connect(self._on_item_changed)
        self.itemDoubleClicked.connect(self._on_double_clicked)

    def set_runs(self, summaries: list[RunSummary], checked: set[Path] | None = None) -> None:
        """Show ``summaries`` (keeping the ticks of ``checked`` folders)."""
        checked = set(checked or ())
        self.blockSignals(True)
        self.setSortingEnabled(False)
        self.clearContents()
        self.setRowCount(len(summaries))
        self.summaries = {s.folder: s for s in summaries}
        for row, s in enumerate(summaries):
            for col, (text, key, tip) in enumerate(row_cells(s)):
                item = SortItem(text)
                item.setData(_SORT_ROLE, key)
                item.setData(_FOLDER_ROLE, str(s.folder))
                item.setToolTip(tip)
                if col == 0:
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Checked if s.folder in checked else Qt.CheckState.Unchecked)
                if col == COLUMNS.index("State") and s.state in STATE_COLORS:
                    item.setForeground(QColor(STATE_COLORS[s.state]))
                if s.problem:
                    item.setForeground(QColor(STATUS_COLORS["poor"]))
                self.setItem(row, col, item)
            html, tip = quality_html(s.verdicts)
            sort = SortItem("")
            sort.setData(_SORT_ROLE, sum(v == "good" for v in s.verdicts.values()))
            sort.setData(_FOLDER_ROLE, str(s.folder))
            self.setItem(row, QUALITY_COLUMN, sort)
            label = QLabel(html, self)
            label.setToolTip(tip)
            label.setContentsMargins(4, 0, 4, 0)
            self.setCellWidget(row, QUALITY_COLUMN, label)
        self.setSortingEnabled(True)
        self.blockSignals(False)
        self.checkedChanged.emit()

    def folder_at(self, row: int) -> Path | None:
        item = self.item(row, 0)
        return Path(item.data(_FOLDER_ROLE)) if item is not None else None

    def row_of(self, folder: Path) -> int:
        for row in range(self.rowCount()):
            if self.folder_at(row) == Path(folder):
                return row
        return -1

    def checked(self) -> list[Path]:
        """The ticked runs, in table order."""
        return [
            self.folder_at(r)
            for r in range(self.rowCount())
            if self.item(r, 0) is not None and self.item(r, 0).checkState() == Qt.CheckState.Checked
        ]

    def set_checked(self, folder: Path, on: bool) -> None:
        row = self.row_of(folder)
        if row >= 0:
            self.item(row, 0).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def current(self) -> RunSummary | None:
        row = self.currentRow()
        folder = self.folder_at(row) if row >= 0 else None
        return self.summaries.get(folder) if folder is not None else None

    def select(self, folder: Path) -> None:
        row = self.row_of(folder)
        if row >= 0:
            self.selectRow(row)

    @Slot(QTableWidgetItem)
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self.checkedChanged.emit()

    @Slot(QTableWidgetItem)
    def _on_double_clicked(self, item: QTableWidgetItem) -> None:
        folder = Path(item.data(_FOLDER_ROLE))
        summary = self.summaries.get(folder)
        if summary is not None and summary.problem is None:
            self.openRequested.emit(folder)
