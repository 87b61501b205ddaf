"""Progress over the report's stages in one count of work units, with stop and pause checked on
every tick (the engine contract)."""

from __future__ import annotations

from engine.events import Control, EventCallback, Progress, ProgressClock


class ReportProgress:
    """``tick(n)`` after each unit of work (a generated slice, a segmenter iteration...)."""

    def __init__(self, on_event: EventCallback, control: Control, total: int = 1) -> None:
        self.on_event, self.control = on_event, control
        self.total, self.done, self.stage = max(1, int(total)), 0, ""
        self.clock = ProgressClock(self.total)

    def plan(self, total: int) -> None:
        self.total = max(1, int(total))
        self.clock = ProgressClock(self.total, self.done)

    def check(self) -> None:
        self.control.raise_if_stopped()
        if self.control.wait_while_paused():
            self.clock.pause_gap()
            self.control.raise_if_stopped()

    def start(self, stage: str) -> None:
        self.stage = stage
        self.check()
        self._emit()

    def tick(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + int(n))
        self._emit()
        self.check()

    def finish(self, message: str = "Report written") -> None:
        self.done = self.total
        self.stage = message
        self._emit()

    def _emit(self) -> None:
        rate, eta = self.clock.update(self.done)
        self.on_event(Progress(self.done, self.total, self.stage, rate, eta))
