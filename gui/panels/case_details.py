"""The Image info and Header tags tabs of the Dataset panel: what the header says of the selected
case (and, once its voxels are loaded, the modality as inferred, data type, value range and units),
and every header tag with a filter box."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.data.cases import CaseRef
from engine.data.viewing import header_tags, image_info


def _table(columns: tuple[str, ...], parent: QWidget) -> QTableWidget:
    table = QTableWidget(0, len(columns), parent)
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    return table


class ImageInfo(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self.setHorizontalHeaderLabels(("Property", "Value"))
        self.verticalHeader().hide()
        self.horizontalHeader().setStretchLastSection(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)

    def show_case(self, case: CaseRef, view=None) -> None:
        """The case's header facts; with ``view`` (its loaded ViewVolume) the loaded facts too."""
        rows = image_info(case)
        if view is not None:
            loaded = dict(view.info_rows())
            rows = [(k, loaded.pop(k)) if k in loaded else (k, v) for k, v in rows]
            at = next((i for i, (k, _) in enumerate(rows) if k == "Modality"), len(rows)) + 1
            rows[at:at] = list(loaded.items())
        self.setRowCount(len(rows))
        for r, (k, v) in enumerate(rows):
            self.setItem(r, 0, QTableWidgetItem(k))
            item = QTableWidgetItem(v)
            item.setToolTip(v)
            self.setItem(r, 1, item)
        self.resizeColumnToContents(0)

    def rows(self) -> dict[str, str]:
        return {self.item(r, 0).text(): self.item(r, 1).text() for r in range(self.rowCount())}


class HeaderTags(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter tags (name, tag or value)…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.apply_filter)
        self.table = _table(("Tag", "Name", "Value"), self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter)
        layout.addWidget(self.table)

    def show_case(self, case: CaseRef) -> None:
        try:
            rows = header_tags(case) if case.image.exists() else []
        except Exception as exc:  # a damaged header: show the reason instead of the tags
            rows = [("", "error", str(exc))]
        self.table.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.apply_filter(self.filter.text())

    @Slot(str)
    def apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for r in range(self.table.rowCount()):
            row_text = " ".join(
                self.table.item(r, c).text().lower() for c in range(3) if self.table.item(r, c)
            )
            self.table.setRowHidden(r, bool(needle) and needle not in row_text)
