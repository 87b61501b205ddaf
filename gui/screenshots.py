"""`python main.py gui --screenshot OUT.png`: fill each panel, render, save, exit (README pictures
and tests)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from engine.resources import DEMO_DATASET

log = logging.getLogger(__name__)


def process_events_for(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def wait_until(predicate, timeout_s: float = 120.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if predicate():
            return True
        time.sleep(0.02)
    return False


def take_screenshots(window, out: Path, data: Path | None, run: Path | None, size=(1440, 900)) -> int:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    window.resize(*size)
    window.show()
    process_events_for(0.3)
    window.grab().save(str(out.with_name(f"{out.stem}-welcome{out.suffix}")))
    window.open_dataset(Path(data) if data else DEMO_DATASET)
    wait_until(lambda: window.dataset_panel.result is not None and not window.dataset_panel.is_busy())
    process_events_for(0.5)
    if run is not None:
        window.open_run(Path(run))
        wait_until(lambda: not any(p.is_busy() for p in window.panels.values()), 120)
        process_events_for(0.5)
    shots = {}
    for i, name in enumerate(("dataset", "training", "gallery")):
        window.nav.setCurrentRow(i)
        panel = window.panels[name]
        if hasattr(panel, "prepare_screenshot"):
            panel.prepare_screenshot()
            wait_until(lambda panel=panel: not panel.is_busy(), 300)
        process_events_for(0.4)
        path = out.with_name(f"{out.stem}-{name}{out.suffix}")
        window.grab().save(str(path))
        shots[name] = path
    window.nav.setCurrentRow(0)
    process_events_for(0.2)
    window.grab().save(str(out))
    for path in [out, *shots.values()]:
        print(path)
    window.close()
    QTimer.singleShot(0, QApplication.quit)
    return 0
