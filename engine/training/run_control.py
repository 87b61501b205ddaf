"""A small control file in the run folder that a trainer in another process (torchrun, launched by
the window) polls for stop / pause / run."""

from __future__ import annotations

import os
import time
from pathlib import Path

from engine.events import Control

COMMANDS = ("run", "pause", "stop")


class RunControlFile:
    def __init__(self, path: Path, poll_s: float = 0.25) -> None:
        self.path = Path(path)
        self.poll_s = poll_s
        self._last_check = 0.0
        self._last_mtime: float | None = None

    def apply_to(self, control: Control) -> None:
        now = time.monotonic()
        if now - self._last_check < self.poll_s:
            return
        self._last_check = now
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime == self._last_mtime:
            return
        self._last_mtime = mtime
        command = read_command(self.path)
        if command == "stop":
            control.stop()
        elif command == "pause":
            control.pause()
        elif command == "run":
            control.resume()


def read_command(path: Path) -> str | None:
    try:
        text = Path(path).read_text(encoding="utf-8").strip().lower()
    except OSError:
        return None
    return text if text in COMMANDS else None


def write_command(path: Path, command: str) -> None:
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(command + "\n", encoding="utf-8")
    os.replace(tmp, path)
