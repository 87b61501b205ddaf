"""Export progress in files written, with the Control checked at every file.

The number of slices of a case is known only once it is loaded, so the total is an estimate that is
refined as cases load (known files + the average per case for the rest).
"""

from __future__ import annotations

import logging

from engine.events import Control, EventCallback, Log, Progress, ProgressClock, StateChanged

log = logging.getLogger("engine.export")


class ExportProgress:
    def __init__(
        self, on_event: EventCallback, control: Control | None, n_cases: int, extra_files: int
    ) -> None:
        self.on_event = on_event
        self.control = control
        self.n_cases = n_cases
        self.extra_files = extra_files  # dataset.json, README, manifest
        self.done = 0
        self._known_files = 0
        self._known_cases = 0
        self.total = max(1, extra_files)
        self.clock = ProgressClock(self.total)

    def check(self) -> None:
        """Wait while paused; raise Cancelled if a stop was requested."""
        control = self.control
        if control is None:
            return
        if control.paused and not control.stop_requested:
            self.on_event(StateChanged("paused"))
            control.wait_while_paused()
            self.clock.pause_gap()
            if not control.stop_requested:
                self.on_event(StateChanged("running"))
        control.raise_if_stopped()

    def case_planned(self, n_files: int) -> None:
        """A case was loaded and will write ``n_files`` files."""
        self._known_files += n_files
        self._known_cases += 1
        remaining = max(0, self.n_cases - self._known_cases)
        average = self._known_files / self._known_cases
        self.total = max(self.done, self._known_files + round(average * remaining) + self.extra_files)
        self.clock.total = self.total

    def file_written(self, message: str) -> None:
        self.done += 1
        self.total = max(self.total, self.done)
        rate, eta = self.clock.update(self.done)
        self.on_event(Progress(self.done, self.total, message, rate, eta))
        self.check()

    def info(self, text: str) -> None:
        log.info(text)
        self.on_event(Log("info", text))

    def warning(self, text: str) -> None:
        log.warning(text)
        self.on_event(Log("warning", text))
