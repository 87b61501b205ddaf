"""The engine contract for long work: small frozen event dataclasses and a Control.

Every long operation takes ``on_event`` (a callable receiving one of the events below) and a
``Control`` whose ``stop``/``pause`` flags it checks at least once per iteration, slice or file,
through one ``TaskState`` (progress with rate and ETA, the pause/stop point, the state events).
Events carry floats, strings and small NumPy arrays only, never tensors.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    message: str = ""
    rate: float | None = None  # items per second
    eta_s: float | None = None


@dataclass(frozen=True)
class Losses:
    iteration: int
    values: dict[str, float]


@dataclass(frozen=True)
class Preview:
    iteration: int
    images: dict[str, Any]  # name -> small 2-D float32 NumPy array in [-1, 1] or uint8 labels
    path: str | None = None


@dataclass(frozen=True)
class CheckpointSaved:
    path: str
    iteration: int = 0


@dataclass(frozen=True)
class Log:
    level: str  # "debug" | "info" | "warning" | "error"
    text: str


@dataclass(frozen=True)
class StateChanged:
    state: str  # "running" | "paused" | "stopping"


@dataclass(frozen=True)
class Finished:
    result: Any = None


Event = Progress | Losses | Preview | CheckpointSaved | Log | StateChanged | Finished
EventCallback = Callable[[Event], None]


def ignore_events(event: Event) -> None:
    """An ``on_event`` that drops everything (scripts that do not care)."""


@dataclass
class Control:
    """Thread-safe stop and pause flags, set by the GUI or CLI and polled by the engine."""

    stop_event: threading.Event = field(default_factory=threading.Event)
    pause_event: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        self.stop_event.set()

    def pause(self) -> None:
        self.pause_event.set()

    def resume(self) -> None:
        self.pause_event.clear()

    @property
    def stop_requested(self) -> bool:
        return self.stop_event.is_set()

    @property
    def paused(self) -> bool:
        return self.pause_event.is_set()

    def raise_if_stopped(self) -> None:
        if self.stop_event.is_set():
            raise Cancelled("Stopped by the user.")

    def wait_while_paused(self, poll_s: float = 0.05) -> bool:
        """Block while paused; return True if a pause happened. Returns at once on stop."""
        waited = False
        while self.pause_event.is_set() and not self.stop_event.is_set():
            waited = True
            time.sleep(poll_s)
        return waited


class ProgressClock:
    """Rate and ETA for Progress events: exponentially smoothed, or with ``mean`` the average over
    all the time worked so far (for jobs whose steps are uneven: a volume's label map, then its
    slices, then its file; the mean over whole volumes is what predicts the rest)."""

    def __init__(self, total: int, start_done: int = 0, smoothing: float = 0.2, mean: bool = False) -> None:
        self.total = total
        self._last_t = time.perf_counter()
        self._last_done = start_done
        self._rate: float | None = None
        self._smoothing = smoothing
        self._mean = mean
        self._start_done = start_done
        self._worked_s = 0.0

    def update(self, done: int) -> tuple[float | None, float | None]:
        now = time.perf_counter()
        dt = now - self._last_t
        if self._mean:
            self._worked_s += max(0.0, dt)
            self._last_t = now
            if done > self._start_done and self._worked_s > 0:
                self._rate = (done - self._start_done) / self._worked_s
        elif dt > 0 and done > self._last_done:
            inst = (done - self._last_done) / dt
            s = self._smoothing
            self._rate = inst if self._rate is None else (1 - s) * self._rate + s * inst
            self._last_t, self._last_done = now, done
        eta = (self.total - done) / self._rate if self._rate else None
        return self._rate, eta

    def pause_gap(self) -> None:
        """Forget the time spent paused so the rate is not dragged down."""
        self._last_t = time.perf_counter()


Flags = Callable[[], tuple[bool, bool]]


class TaskState:
    """The progress and the stop/pause point of one long job (Orange3's TaskState): every long
    operation of the engine reports and pauses through one of these, so they all emit the same
    events.

    - ``progress(done, message)`` emits ``Progress`` with a smoothed rate and ETA;
    - ``check()`` is the pause/stop point: while paused it emits ``StateChanged("paused")``, waits,
      then ``StateChanged("running")``; a stop raises ``Cancelled``. Time spent paused is left out
      of the rate (and counted in ``paused_s``).

    ``flags`` replaces how stop and pause are read (a DDP trainer agrees on them across ranks);
    ``on_state`` is also told every state change (a trainer records it in status.json);
    ``mean_rate`` takes the rate over all the time worked (ProgressClock's ``mean``).
    """

    def __init__(
        self,
        on_event: EventCallback = ignore_events,
        control: Control | None = None,
        total: int = 1,
        done: int = 0,
        *,
        flags: Flags | None = None,
        on_state: Callable[[str], None] | None = None,
        poll_s: float = 0.05,
        mean_rate: bool = False,
    ) -> None:
        self.on_event = on_event
        self.control = control or Control()
        self.total = max(1, int(total))
        self.done = int(done)
        self.message = ""
        self.paused_s = 0.0
        self._mean_rate = mean_rate
        self.clock = ProgressClock(self.total, self.done, mean=mean_rate)
        self._flags = flags or (lambda: (self.control.stop_requested, self.control.paused))
        self._on_state = on_state
        self._poll_s = poll_s

    # ---- progress --------------------------------------------------------------------------
    def set_total(self, total: int) -> None:
        self.total = max(1, int(total), self.done)
        self.clock.total = self.total

    def restart(self, total: int, done: int | None = None) -> None:
        """A new plan of work units (rate and ETA start over from ``done``)."""
        if done is not None:
            self.done = int(done)
        self.total = max(1, int(total))
        self.clock = ProgressClock(self.total, self.done, mean=self._mean_rate)

    def progress(self, done: int | None = None, message: str | None = None) -> None:
        """Emit Progress at ``done`` (default: where it is) with ``message`` (default: the last)."""
        if done is not None:
            self.done = int(done)
        if message is not None:
            self.message = message
        if self.done > self.total:
            self.set_total(self.done)
        rate, eta = self.clock.update(self.done)
        self.on_event(Progress(self.done, self.total, self.message, rate, eta))

    def advance(self, n: int = 1, message: str | None = None) -> None:
        self.progress(self.done + int(n), message)

    def log(self, level: str, text: str) -> None:
        self.on_event(Log(level, text))

    # ---- control ---------------------------------------------------------------------------
    def state_changed(self, state: str) -> None:
        self.on_event(StateChanged(state))
        if self._on_state is not None:
            self._on_state(state)

    def check(self) -> None:
        """Wait while paused; raise Cancelled once a stop is requested."""
        stop, pause = self._flags()
        if pause and not stop:
            self.state_changed("paused")
            started = time.perf_counter()
            while True:
                time.sleep(self._poll_s)
                stop, pause = self._flags()
                if stop or not pause:
                    break
            self.paused_s += time.perf_counter() - started
            self.clock.pause_gap()
            if not stop:
                self.state_changed("running")
        if stop:
            raise Cancelled("Stopped by the user.")
