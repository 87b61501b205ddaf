"""The scan's "what was left out and why", below the case table: every skipped file with its reason
(and the scan's notes), readable at a glance, never hidden in a tooltip or a column off the edge.

Plain text in a read-only box that grows with its lines up to ``MAX_LINES`` and scrolls beyond.
"""

from __future__ import annotations

from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import QFrame, QPlainTextEdit, QSizePolicy, QWidget

MAX_LINES = 8


def skipped_lines(result) -> list[str]:
    """``case: reason`` for every case the scan skipped, then the unlabeled ones, then its notes."""
    lines = [f"✗ {c.id}: {c.error}" for c in result.error_cases]
    unlabeled = result.unlabeled_cases
    if unlabeled:
        ids = ", ".join(c.id for c in unlabeled[:12]) + (
            f" and {len(unlabeled) - 12} more" if len(unlabeled) > 12 else ""
        )
        lines.append(f"– Not used for training (no label map found): {ids}")
    lines += [f"ⓘ {note}" for note in result.notes]
    return lines


class SkippedFiles(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setStyleSheet("QPlainTextEdit { color: #eb8f86; }")
        self.setToolTip("Files the scan could not use, and why")
        self.hide()

    def show_result(self, result) -> None:
        lines = skipped_lines(result) if result is not None else []
        self.setPlainText("\n".join(lines))
        self.setVisible(bool(lines))
        self._fit()

    def lines(self) -> list[str]:
        text = self.toPlainText()
        return text.splitlines() if text else []

    def _fit(self) -> None:
        """As tall as its (wrapped) lines, up to MAX_LINES lines."""
        doc = self.document()
        doc.setTextWidth(self.viewport().width() or 600)
        line = self.fontMetrics().lineSpacing()
        rows = max(1, round(doc.size().height()))  # in lines for a plain-text document layout
        rows = min(rows, MAX_LINES)
        margins = self.contentsMargins()
        self.setFixedHeight(
            rows * line + 2 * int(doc.documentMargin()) + margins.top() + margins.bottom() + 2
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()
