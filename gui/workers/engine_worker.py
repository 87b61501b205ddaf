"""The QThread adapter, the window's one worker family: runs one engine function (the engine
contract: config, on_event, control) off the GUI thread and turns its events into Qt signals,
throttled to at most ~20 Hz. Training in torchrun processes is such a function too
(engine.training.distributed.train_distributed), so it runs in this worker like everything else.

Workers only emit; they never touch widgets. Stop and pause are the engine Control's flags (a busy
loop never runs a queued slot), so they act within one iteration.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from engine.errors import Cancelled, SynthVolError
from engine.events import CheckpointSaved, Control, Finished, Log, Losses, Preview, Progress, StateChanged

log = logging.getLogger(__name__)
MIN_INTERVAL_S = 0.05  # ~20 Hz


class EngineWorker(QObject):
    progress = Signal(
        int, int, str, float, float
    )  # done, total, message, rate (-1 unknown), eta_s (-1 unknown)
    lossesReady = Signal(list)  # [(iteration, {name: value}), ...] since the last emission
    preview = Signal(int, dict, str)  # iteration, images, png path ("" if none)
    logMessage = Signal(str, str)  # level, text
    checkpointSaved = Signal(str, int)
    stateChanged = Signal(str)  # started | running | paused | stopping | finished | stopped | failed
    succeeded = Signal(object)  # the result
    failed = Signal(str, str)  # short message, details
    done = Signal()  # always last

    def __init__(
        self, fn: Callable[..., Any], *args: Any, control: Control | None = None, **kwargs: Any
    ) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.control = control or Control()
        self._lock = threading.Lock()
        self._pending_losses: list = []
        self._last_emit = 0.0
        self._last_progress: Progress | None = None
        self._last_progress_emit = 0.0

    # called on the worker thread by the engine
    def on_event(self, event) -> None:
        now = time.monotonic()
        if isinstance(event, Progress):
            self._last_progress = event
            if now - self._last_progress_emit >= MIN_INTERVAL_S or event.done >= event.total:
                self._emit_progress(event)
                self._last_progress_emit = now
        elif isinstance(event, Losses):
            self._pending_losses.append((event.iteration, dict(event.values)))
        elif isinstance(event, Preview):
            self.preview.emit(event.iteration, dict(event.images), event.path or "")
        elif isinstance(event, Log):
            self.logMessage.emit(event.level, event.text)
        elif isinstance(event, CheckpointSaved):
            self.checkpointSaved.emit(event.path, event.iteration)
        elif isinstance(event, StateChanged):
            self.stateChanged.emit(event.state)
        elif isinstance(event, Finished):
            pass
        if self._pending_losses and now - self._last_emit >= MIN_INTERVAL_S:
            self._flush_losses()
            self._last_emit = now

    def _emit_progress(self, p: Progress) -> None:
        self.progress.emit(
            p.done,
            p.total,
            p.message,
            -1.0 if p.rate is None else float(p.rate),
            -1.0 if p.eta_s is None else float(p.eta_s),
        )

    def _flush_losses(self) -> None:
        batch, self._pending_losses = self._pending_losses, []
        if batch:
            self.lossesReady.emit(batch)

    @Slot()
    def run(self) -> None:
        self.stateChanged.emit("started")  # the engine says "running" itself once its loop runs
        try:
            result = self.fn(*self.args, on_event=self.on_event, control=self.control, **self.kwargs)
        except Cancelled:
            self._flush_losses()
            self.stateChanged.emit("stopped")
            self.succeeded.emit(None)
        except SynthVolError as exc:
            self._flush_losses()
            self.stateChanged.emit("failed")
            details = getattr(exc, "details", "")  # e.g. the last output of a torchrun child
            self.failed.emit(str(exc), f"{details}\n\n{traceback.format_exc()}" if details else traceback.format_exc())
        except Exception as exc:  # a bug or an unexpected library error: show it, keep the window
            log.exception("worker failed")
            self._flush_losses()
            self.stateChanged.emit("failed")
            self.failed.emit(f"Unexpected error: {type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            self._flush_losses()
            if self._last_progress is not None:
                self._emit_progress(self._last_progress)
            stopped = bool(getattr(result, "stopped", False))
            self.stateChanged.emit("stopped" if stopped else "finished")
            self.succeeded.emit(result)
        finally:
            self.done.emit()

    # called from the GUI thread
    def stop(self) -> None:
        self.stateChanged.emit("stopping")
        self.control.stop()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()


class WorkerThread:
    """Keeps the QThread and its worker together (references held, so nothing is destroyed while
    running) and cleans up when the work is done."""

    def __init__(self, worker: EngineWorker, name: str = "engine") -> None:
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName(name)
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        # direct: QThread.quit is thread-safe, and a queued call would wait for the GUI thread, which
        # may itself be blocked in stop_and_wait()
        worker.done.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)

    def start(self) -> None:
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def stop_and_wait(self, timeout_ms: int = 60_000) -> bool:
        if self.thread.isRunning():
            self.worker.control.stop()
            return self.thread.wait(timeout_ms)
        return True
