"""LogView and QtLogHandler: records from worker threads reach the view on the GUI thread."""

from __future__ import annotations

import logging
import threading

import pytest
from PySide6.QtCore import QThread, Slot
from PySide6.QtGui import QGuiApplication

from gui.widgets.log_view import LogView, QtLogHandler


class RecordingLogView(LogView):
    """Notes the thread each record arrives on."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.arrival_threads: set[object] = set()

    @Slot(int, str)
    def append_record(self, levelno: int, text: str) -> None:
        self.arrival_threads.add(QThread.currentThread())
        super().append_record(levelno, text)


@pytest.fixture
def logger():
    log = logging.getLogger("synthvol.test.logview")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)


def test_records_from_a_worker_thread_arrive_on_the_gui_thread(qtbot, logger):
    view = RecordingLogView()
    qtbot.addWidget(view)
    handler = QtLogHandler()
    view.connect_handler(handler)
    logger.addHandler(handler)

    def work():
        for i in range(50):
            logger.info("iteration %d done", i)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(view.lines()) == 50)
    assert view.arrival_threads == {QGuiApplication.instance().thread()}
    assert view.lines()[0].endswith("synthvol.test.logview: iteration 0 done")
    assert "INFO" in view.lines()[-1]


def test_level_filter_hides_and_shows_lines(qtbot, logger):
    view = LogView()
    qtbot.addWidget(view)
    handler = QtLogHandler()
    view.connect_handler(handler)
    logger.addHandler(handler)
    logger.debug("details")
    logger.info("progress")
    logger.warning("careful")
    logger.error("failed")
    view.flush()
    assert [line.split(": ", 1)[1] for line in view.lines()] == ["progress", "careful", "failed"]
    view.set_min_level(logging.DEBUG)
    assert len(view.lines()) == 4
    view.set_min_level(logging.WARNING)
    assert [line.split(": ", 1)[1] for line in view.lines()] == ["careful", "failed"]
    view.append_message("error", "from an engine Log event")
    assert view.lines()[-1] == "from an engine Log event"


def test_max_lines_copy_all_and_clear(qtbot):
    view = LogView(max_lines=10)
    qtbot.addWidget(view)
    for i in range(25):
        view.append_record(logging.INFO, f"line {i}")
    assert view.lines() == [f"line {i}" for i in range(15, 25)]
    view.copy_all()
    assert QGuiApplication.clipboard().text() == "\n".join(f"line {i}" for i in range(15, 25))
    view.append_record(logging.INFO, "a <b>tag</b> & more")
    assert view.lines()[-1] == "a <b>tag</b> & more"  # shown as text, not HTML
    view.clear()
    assert view.lines() == []


def test_a_handler_outliving_its_view_does_not_raise(qtbot, logger):
    view = LogView()
    handler = QtLogHandler()
    view.connect_handler(handler)
    logger.addHandler(handler)
    view.deleteLater()
    qtbot.wait(10)
    logger.info("nobody listens")  # no exception, no crash
