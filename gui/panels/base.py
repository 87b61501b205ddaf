"""What every panel shares: status/busy signals and the bookkeeping of its background workers."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from gui.workers.engine_worker import EngineWorker, WorkerThread


class Panel(QWidget):
    statusMessage = Signal(str)
    busyChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._threads: dict[str, WorkerThread] = {}
        self._processes: dict[str, object] = {}  # workers that run a child process (torchrun)

    def start_worker(self, name: str, worker: EngineWorker) -> WorkerThread:
        """Run ``worker`` in its own QThread; the panel keeps the references until it is done."""
        old = self._threads.get(name)
        if old is not None and old.is_running():
            raise RuntimeError(f"{name} is already running")
        handle = WorkerThread(worker, name)
        self._threads[name] = handle
        handle.thread.finished.connect(self._on_thread_finished)
        handle.start()
        self.busyChanged.emit(True)
        return handle

    def start_process_worker(self, name: str, worker) -> None:
        """A worker that runs a child process (it has start/is_running/stop_and_wait and `done`)."""
        self._processes[name] = worker
        worker.done.connect(self._on_thread_finished)
        worker.start()
        self.busyChanged.emit(True)

    def worker(self, name: str):
        handle = self._threads.get(name)
        if handle is not None and handle.is_running():
            return handle.worker
        proc = self._processes.get(name)
        return proc if proc is not None and proc.is_running() else None

    def _on_thread_finished(self) -> None:
        self.busyChanged.emit(self.is_busy())

    def is_busy(self) -> bool:
        return any(h.is_running() for h in self._threads.values()) or any(
            p.is_running() for p in self._processes.values()
        )

    def stop_and_wait(self, timeout_ms: int = 120_000) -> bool:
        ok = True
        for handle in self._threads.values():
            ok = handle.stop_and_wait(timeout_ms) and ok
        for proc in self._processes.values():
            ok = proc.stop_and_wait(timeout_ms) and ok
        return ok
