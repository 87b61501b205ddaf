"""Export progress in files written, with the stop/pause point at every file (a ``TaskState``).

The number of slices of a case is known only once it is loaded, so the total is an estimate that is
refined as cases load (known files + the average per case for the rest).
"""

from __future__ import annotations

import logging

from engine.events import Control, EventCallback, TaskState

log = logging.getLogger("engine.export")


class ExportProgress(TaskState):
    def __init__(
        self, on_event: EventCallback, control: Control | None, n_cases: int, extra_files: int
    ) -> None:
        super().__init__(on_event, control, total=max(1, extra_files))
        self.n_cases = n_cases
        self.extra_files = extra_files  # dataset.json, README, manifest
        self._known_files = 0
        self._known_cases = 0

    def case_planned(self, n_files: int) -> None:
        """A case was loaded and will write ``n_files`` files."""
        self._known_files += n_files
        self._known_cases += 1
        remaining = max(0, self.n_cases - self._known_cases)
        average = self._known_files / self._known_cases
        self.set_total(self._known_files + round(average * remaining) + self.extra_files)

    def file_written(self, message: str) -> None:
        self.advance(1, message)
        self.check()

    def info(self, text: str) -> None:
        log.info(text)
        self.log("info", text)

    def warning(self, text: str) -> None:
        log.warning(text)
        self.log("warning", text)
