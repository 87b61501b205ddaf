"""Turns engine events into a progress line and log lines on the terminal (stderr)."""

from __future__ import annotations

import sys
import time

from engine.events import Event, Log, Losses, Progress


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "--:--"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressPrinter:
    """A callable on_event for the CLI: a redrawn bar on a terminal, sparse lines otherwise."""

    def __init__(
        self,
        enabled: bool = True,
        stream=None,
        unit: str = "it",
        min_interval_s: float = 0.2,
        show_warnings: bool = True,
    ):
        self.enabled = enabled
        self.show_warnings = show_warnings
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.unit = unit
        self.min_interval_s = min_interval_s if self.tty else 5.0
        self._last = 0.0
        self._line_open = False
        self._losses: dict[str, float] = {}

    def __call__(self, event: Event) -> None:
        if not self.enabled:
            return
        if isinstance(event, Losses):
            self._losses = {k: v for k, v in event.values.items()}
        elif isinstance(event, Progress):
            now = time.monotonic()
            if now - self._last >= self.min_interval_s or event.done >= event.total:
                self._last = now
                self._draw(event)
        elif isinstance(event, Log) and event.level in ("warning", "error") and self.show_warnings:
            self._end_line()
            print(f"{event.level}: {event.text}", file=self.stream)

    def _draw(self, p: Progress) -> None:
        total = max(p.total, 1)
        frac = min(max(p.done / total, 0.0), 1.0)
        width = 24
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        parts = [f"[{bar}] {p.done}/{p.total}"]
        if p.rate:
            parts.append(f"{p.rate:.2f} {self.unit}/s")
        if p.eta_s is not None:
            parts.append(f"ETA {_fmt_duration(p.eta_s)}")
        if self._losses:
            parts.append(" ".join(f"{k.replace('loss_', '')} {v:.3g}" for k, v in list(self._losses.items())[:5]))
        if p.message and not self._losses:
            parts.append(p.message)
        line = "  ".join(parts)
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(80))
            self._line_open = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _end_line(self) -> None:
        if self._line_open:
            self.stream.write("\n")
            self._line_open = False

    def close(self) -> None:
        self._end_line()


def run_with_progress(fn, config, printer: ProgressPrinter, **kwargs):
    """Run an engine function (the engine contract) with the printer as on_event; Ctrl+C sets the
    stop flag first, so the work ends cleanly (training writes its checkpoint)."""
    from engine.events import Control

    control = Control()
    try:
        return fn(config, on_event=printer, control=control, **kwargs)
    except KeyboardInterrupt:
        control.stop()
        raise
    finally:
        printer.close()
