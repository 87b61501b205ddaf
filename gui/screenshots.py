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


def _shot(window, out: Path, name: str, size: tuple[int, int] | None) -> Path:
    tag = f"-{size[0]}x{size[1]}" if size is not None else ""
    path = out.with_name(f"{out.stem}-{name}{tag}{out.suffix}") if name else out.with_name(f"{out.stem}{tag}{out.suffix}")
    window.grab().save(str(path))
    return path


def take_screenshots(window, out: Path, data: Path | None, run: Path | None, sizes=None) -> int:
    """Every panel at every size in ``sizes`` ([(w, h)], named OUT-<panel>-<w>x<h>.png), or at
    1440 x 900 named OUT-<panel>.png when no size is given."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tagged = bool(sizes)
    sizes = list(sizes) if sizes else [(1440, 900)]
    shots = []
    window.show()
    for size in sizes:
        window.resize(*size)
        process_events_for(0.3)
        shots.append(_shot(window, out, "welcome", size if tagged else None))
    window.open_dataset(Path(data) if data else DEMO_DATASET)
    wait_until(lambda: window.dataset_panel.result is not None and not window.dataset_panel.is_busy())
    process_events_for(0.5)
    if run is not None:
        window.open_run(Path(run))
        wait_until(lambda: not any(p.is_busy() for p in window.panels.values()), 120)
        process_events_for(0.5)
    for name in ("dataset", "training", "gallery", "quality", "runs"):
        if name == "quality":  # the Gallery's Quality tab (its utility study when the report has one)
            if not window.panels["gallery"].prepare_quality_screenshot():
                continue
            for size in sizes:
                window.resize(*size)
                process_events_for(0.5)
                shots.append(_shot(window, out, name, size if tagged else None))
            continue
        window.nav.setCurrentRow(list(window.panels).index(name))
        panel = window.panels[name]
        if hasattr(panel, "prepare_screenshot"):
            panel.prepare_screenshot()
            wait_until(lambda panel=panel: not panel.is_busy(), 300)
        for size in sizes:
            window.resize(*size)
            process_events_for(0.5)
            shots.append(_shot(window, out, name, size if tagged else None))
    window.nav.setCurrentRow(0)
    for size in sizes:
        window.resize(*size)
        process_events_for(0.3)
        shots.append(_shot(window, out, "", size if tagged else None))
    for path in shots:
        print(path)
    window.close()
    QTimer.singleShot(0, QApplication.quit)
    return 0
