"""Errors shown to a clinician: what went wrong and what to do, the technical details on demand.

``show_error`` is the one helper every panel uses. ``ErrorBox`` is the dialog itself: build it
and inspect it in a test without ``exec()``. ``error_reported`` wraps an action: any exception is
logged with its traceback and shown, and the window carries on.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from engine.errors import SynthVolError

log = logging.getLogger(__name__)


class ErrorBox(QDialog):
    def __init__(self, parent: QWidget | None, title: str, message: str, details: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(True)
        self.setSizeGripEnabled(True)
        self.message_text = message
        self.details_text = details or ""

        icon = QLabel(self)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_MessageBoxIconSize, None, self)
        icon.setPixmap(
            self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical).pixmap(size, size)
        )
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.title_label = QLabel(title, self)
        font = self.title_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title_label.setFont(font)
        self.message_label = QLabel(message, self)
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.setMinimumWidth(380)

        self.details_edit = QPlainTextEdit(self.details_text, self)
        self.details_edit.setReadOnly(True)
        self.details_edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details_edit.setMinimumHeight(180)
        self.details_edit.setVisible(False)

        self.details_button = QPushButton("Show details", self)
        self.details_button.setCheckable(True)
        self.details_button.setVisible(bool(self.details_text))
        self.details_button.toggled.connect(self.set_details_visible)
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setToolTip("Copy the message and the details (for a bug report)")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.close_button = QPushButton("Close", self)
        self.close_button.setDefault(True)
        self.close_button.clicked.connect(self.accept)

        text_column = QVBoxLayout()
        text_column.addWidget(self.title_label)
        text_column.addWidget(self.message_label)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addLayout(text_column, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.details_button)
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.details_edit, 1)
        layout.addLayout(buttons)

    @classmethod
    def from_exception(cls, parent: QWidget | None, title: str, exc: BaseException) -> ErrorBox:
        message, details = describe_exception(exc)
        return cls(parent, title, message, details)

    def details_visible(self) -> bool:
        return not self.details_edit.isHidden()

    @Slot(bool)
    def set_details_visible(self, visible: bool) -> None:
        self.details_edit.setVisible(visible)
        self.details_button.setText("Hide details" if visible else "Show details")
        if self.details_button.isChecked() != visible:
            self.details_button.setChecked(visible)
        self.adjustSize()

    def clipboard_text(self) -> str:
        text = f"{self.windowTitle()}\n\n{self.message_text}"
        return f"{text}\n\nDetails:\n{self.details_text}" if self.details_text else text

    @Slot()
    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.clipboard_text())


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """(message, details): the engine's own message for a SynthVolError, else a generic one."""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, SynthVolError) and str(exc):
        return str(exc), details
    if isinstance(exc, MemoryError):
        return (
            "The computer ran out of memory. Close other programs or use smaller settings, then try again.",
            details,
        )
    return (
        f"An unexpected error stopped this operation ({type(exc).__name__}: {exc}). "
        "Please copy the details (Copy) into a bug report.",
        details,
    )


def show_error(parent: QWidget | None, title: str, message: str, details: str | None = None) -> int:
    """Show the error modally and wait for the user to close it; returns the dialog result."""
    box = ErrorBox(parent, title, message, details)
    if QApplication.overrideCursor() is not None:
        QApplication.restoreOverrideCursor()
    return box.exec()


def show_exception(parent: QWidget | None, title: str, exc: BaseException) -> int:
    message, details = describe_exception(exc)
    return show_error(parent, title, message, details)


@contextmanager
def error_reported(parent: QWidget | None, title: str) -> Iterator[None]:
    """``with error_reported(self, "Cannot open the folder"): ...`` logs and shows any exception."""
    try:
        yield
    except Exception as exc:  # shown to the user, never swallowed silently
        log.error("%s: %s", title, exc, exc_info=exc)
        show_exception(parent, title, exc)
