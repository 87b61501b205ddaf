"""ErrorBox: a message a clinician can act on, details on demand, Copy; never blocks a test."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QDialog

from engine.errors import DataError
from gui.widgets import error_dialog
from gui.widgets.error_dialog import ErrorBox, describe_exception, error_reported, show_error


def test_details_are_hidden_until_asked_for_and_copy_takes_everything(qtbot):
    box = ErrorBox(None, "Cannot open the dataset", "case_7.nii.gz is not a 3-D image.", "Traceback: ...")
    qtbot.addWidget(box)
    box.show()
    assert box.message_label.text() == "case_7.nii.gz is not a 3-D image."
    assert box.details_button.isVisible() and not box.details_visible()
    box.details_button.click()
    assert box.details_visible() and box.details_edit.toPlainText() == "Traceback: ..."
    assert box.details_button.text() == "Hide details"
    box.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert "Cannot open the dataset" in copied and "not a 3-D image" in copied and "Traceback: ..." in copied


def test_without_details_there_is_no_details_button(qtbot):
    box = ErrorBox(None, "Export failed", "The disk is full.")
    qtbot.addWidget(box)
    box.show()
    assert not box.details_button.isVisible()
    assert box.clipboard_text() == "Export failed\n\nThe disk is full."


def test_messages_from_exceptions():
    message, details = describe_exception(DataError("labels.json: not valid JSON. Fix or remove the file."))
    assert message == "labels.json: not valid JSON. Fix or remove the file."
    try:
        raise KeyError("spacing")
    except KeyError as exc:
        message, details = describe_exception(exc)
    assert "KeyError" in message and "bug report" in message
    assert "Traceback" in details and "raise KeyError" in details


def test_show_error_is_modal_and_returns_when_closed(qtbot):
    def close_it():
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, ErrorBox)
        dialog.accept()

    QTimer.singleShot(50, close_it)
    assert show_error(None, "Title", "Message", "details") == QDialog.DialogCode.Accepted


def test_error_reported_logs_and_shows_instead_of_raising(monkeypatch, caplog):
    shown = []
    monkeypatch.setattr(error_dialog, "show_error", lambda *args: shown.append(args))
    with error_reported(None, "Cannot start training"):
        raise DataError("No labeled case found in /data.")
    assert shown[0][1:3] == ("Cannot start training", "No labeled case found in /data.")
    assert "Cannot start training" in caplog.text
    with pytest.raises(KeyboardInterrupt), error_reported(None, "x"):
        raise KeyboardInterrupt
