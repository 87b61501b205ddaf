"""Progress over the report's stages in one count of work units, with the stop/pause point on every
tick (a ``TaskState``, as every long job of the engine has)."""

from __future__ import annotations

from engine.events import Control, EventCallback, TaskState


class ReportProgress(TaskState):
    """``tick(n)`` after each unit of work (a generated slice, a segmenter iteration...)."""

    def __init__(self, on_event: EventCallback, control: Control, total: int = 1) -> None:
        super().__init__(on_event, control, total)

    @property
    def stage(self) -> str:
        return self.message

    def plan(self, total: int) -> None:
        self.restart(total)

    def start(self, stage: str) -> None:
        self.message = stage
        self.check()
        self.progress()

    def tick(self, n: int = 1) -> None:
        self.progress(min(self.total, self.done + int(n)))
        self.check()

    def finish(self, message: str = "Report written") -> None:
        self.progress(self.total, message)
