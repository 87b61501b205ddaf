"""What every panel shares: status/busy signals, the bookkeeping of its background workers, and the
one way a panel reports a failure (``report_failure``: a status line, then the error dialog with
its details)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QLayout, QSplitter, QVBoxLayout, QWidget

from gui.widgets import error_dialog
from gui.workers.engine_worker import EngineWorker, WorkerThread

STATUS_CHARS = 120  # how much of an error message the status bar shows


def header_and_panes(page: QWidget, header: QLayout, left: QWidget, right: QWidget, sizes: tuple[int, int],
                     left_stretch: int = 0) -> QSplitter:
    """The layout of a panel page: a header row above two panes side by side (left, right)."""
    split = QSplitter(Qt.Orientation.Horizontal, page)
    split.addWidget(left)
    split.addWidget(right)
    split.setStretchFactor(0, left_stretch)
    split.setStretchFactor(1, 1)
    split.setSizes(list(sizes))
    layout = QVBoxLayout(page)
    layout.setContentsMargins(8, 8, 8, 8)
    layout.addLayout(header)
    layout.addWidget(split, 1)
    return split


class Panel(QWidget):
    statusMessage = Signal(str)
    busyChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._threads: dict[str, WorkerThread] = {}
        # workers whose last signal (done) has not reached the GUI thread yet: the panel is busy
        # until it has, so "not busy" means every slot of the finished work has run
        self._undelivered: set[int] = set()
        # a finished worker whose ``done`` has not been delivered when a new one takes its name: kept
        # alive until it is, so ``sender()`` in _on_worker_done still names it
        self._finishing: dict[int, WorkerThread] = {}

    def start_worker(self, name: str, worker: EngineWorker) -> WorkerThread:
        """Run ``worker`` in its own QThread; the panel keeps the references until it is done."""
        old = self._threads.get(name)
        if old is not None and old.is_running():
            raise RuntimeError(f"{name} is already running")
        if old is not None and id(old.worker) in self._undelivered:
            self._finishing[id(old.worker)] = old
        handle = WorkerThread(worker, name)
        self._threads[name] = handle
        self._undelivered.add(id(worker))
        worker.done.connect(self._on_worker_done)  # after the panel's own slots of `done`
        handle.thread.finished.connect(self._on_thread_finished)
        handle.start()
        self.busyChanged.emit(True)
        return handle

    def worker_for(self, fn, *args, succeeded, failed, done=None, **kwargs) -> EngineWorker:
        """An EngineWorker of ``fn(*args, **kwargs)`` whose result, failure and end go to these
        slots of the panel (start it with ``start_worker``)."""
        worker = EngineWorker(fn, *args, **kwargs)
        worker.succeeded.connect(succeeded)
        worker.failed.connect(failed)
        if done is not None:
            worker.done.connect(done)
        return worker

    def worker(self, name: str) -> EngineWorker | None:
        handle = self._threads.get(name)
        return handle.worker if handle is not None and handle.is_running() else None

    @Slot()
    def _on_worker_done(self) -> None:
        self._undelivered.discard(id(self.sender()))
        self._finishing.pop(id(self.sender()), None)
        self.busyChanged.emit(self.is_busy())

    @Slot()
    def _on_thread_finished(self) -> None:
        self.busyChanged.emit(self.is_busy())

    def is_busy(self) -> bool:
        return bool(self._undelivered) or any(h.is_running() for h in self._threads.values())

    def stop_and_wait(self, timeout_ms: int = 120_000) -> bool:
        ok = True
        for handle in self._threads.values():
            ok = handle.stop_and_wait(timeout_ms) and ok
        if ok:
            self._undelivered.clear()  # every thread has ended; what it queued arrives later or never
            self._finishing.clear()
        return ok

    def report_failure(self, title: str, message: str, details: str | None = None) -> None:
        """The one error path of the window: ``title: first line`` in the status bar, then the
        message (a clinician can act on it) with the technical details on demand."""
        first = (message.splitlines() or [""])[0][:STATUS_CHARS]
        self.statusMessage.emit(f"{title}: {first}" if first else title)
        error_dialog.show_error(self, title, message, details)
