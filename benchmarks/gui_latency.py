"""GUI responsiveness while the window trains or generates in its worker.

A 10 ms QTimer on the GUI thread measures how late each tick fires (event-loop latency, what a user
feels: p50 / p99 / max). Two figures that other processes on the machine do not inflate come with
it: the GUI thread's own CPU time per tick interval (``time.thread_time``), and the slowest event
deliveries on the GUI thread by receiver (``--trace``: QApplication.notify timed), which name what
runs there.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_latency.py --job train --seconds 60
    QT_QPA_PLATFORM=offscreen python benchmarks/gui_latency.py --job generate --count 3 [--run RUN]

``--job generate`` trains a throw-away quick-preset run for a few iterations first (unless
``--run`` names one) and measures from the click on Generate until the volumes' thumbnails are in
the gallery (or ``--seconds``, then Cancel, until the panel is idle).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def quick_run(folder: Path, iterations: int = 4) -> Path:
    """A quick-preset run of the demo, trained for ``iterations`` (its generator is full size)."""
    from engine.resources import DEMO_DATASET
    from engine.training.config import TrainingConfig
    from engine.training.trainer import train

    run = folder / "run"
    train(TrainingConfig(data=DEMO_DATASET, run=run, preset="quick", iterations=iterations, val_every=iterations,
                         preview_every=iterations, checkpoint_every=iterations, device="cpu"))
    return run


def make_app(trace: bool):
    from PySide6.QtCore import QEvent, QThread
    from PySide6.QtWidgets import QApplication

    if not trace:  # a Python notify() takes the GIL for every event: only when asked for
        return QApplication([])

    class TimedApplication(QApplication):
        """Times every top-level event delivery on the GUI thread (receiver class, event type)."""

        def __init__(self, argv) -> None:
            super().__init__(argv)
            self.depth = 0
            self.slow: collections.Counter = collections.Counter()
            self.slow_ms: collections.defaultdict = collections.defaultdict(float)
            self.worst: list[tuple[float, str]] = []
            self.tracing = False

        def notify(self, receiver, event) -> bool:
            if not self.tracing or self.depth or QThread.currentThread() is not self.thread():
                return super().notify(receiver, event)
            self.depth += 1
            t0 = time.perf_counter()
            try:
                return super().notify(receiver, event)
            finally:
                self.depth -= 1
                ms = (time.perf_counter() - t0) * 1e3
                if ms >= 4.0:
                    kind = QEvent.Type(event.type()).name if hasattr(QEvent.Type(event.type()), "name") else event.type()
                    name = f"{type(receiver).__name__}.{kind}"
                    if event.type() == QEvent.Type.MetaCall:
                        name = f"{type(receiver).__name__} (queued signal)"
                    self.slow[name] += 1
                    self.slow_ms[name] += ms
                    self.worst.append((ms, name))

    return TimedApplication([])


def start_training(window, wait_until) -> tuple[object, callable]:
    from engine.resources import DEMO_DATASET
    from engine.training.config import TrainingConfig

    window.open_dataset(DEMO_DATASET)
    wait_until(lambda: window.dataset_panel.result is not None and not window.dataset_panel.is_busy())
    window.nav.setCurrentRow(1)
    panel = window.training_panel
    run = Path(tempfile.mkdtemp(prefix="synthvol-gui-latency-")) / "run"
    cfg = TrainingConfig(data=DEMO_DATASET, run=run, preset="quick", iterations=100_000, log_every=1,
                         val_every=20, preview_every=20, checkpoint_every=200, device="cpu")
    panel.form.config = lambda: cfg  # the quick preset with frequent events: the worst case for the GUI
    panel.start()
    wait_until(lambda: panel.state == "running", 300)
    return panel, lambda: f"iteration {panel.stats['iteration'].text()}"


def start_generating(window, wait_until, run: Path, count: int) -> tuple[object, callable]:
    window.open_run(run)
    wait_until(lambda: not any(p.is_busy() for p in window.panels.values()), 300)
    window.nav.setCurrentRow(2)
    panel = window.gallery_panel
    panel.form.count.setValue(count)
    panel.generate()
    return panel, lambda: f"{panel.grid.count()} thumbnail(s) in the gallery"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--job", choices=("train", "generate"), default="train")
    p.add_argument("--seconds", type=float, default=60.0, help="training: how long; generating: at most")
    p.add_argument("--interval-ms", type=int, default=10)
    p.add_argument("--count", type=int, default=3, help="volumes to generate")
    p.add_argument("--run", type=Path, help="a trained run to generate from (default: a new quick run)")
    p.add_argument("--trace", action="store_true", help="time each event delivery on the GUI thread")
    p.add_argument("--profile", action="store_true", help="cProfile the GUI thread: the functions it spends most in")
    args = p.parse_args()

    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    from gui.main_window import MainWindow
    from gui.screenshots import wait_until
    from gui.theme import apply_theme

    run = args.run
    if args.job == "generate" and run is None:
        run = quick_run(Path(tempfile.mkdtemp(prefix="synthvol-gui-latency-")))
    app = make_app(args.trace)
    apply_theme(app)
    window = MainWindow()
    window.resize(1440, 900)
    window.show()
    if args.job == "train":
        panel, describe = start_training(window, wait_until)
    else:
        panel, describe = start_generating(window, wait_until, run, args.count)

    late: list[float] = []
    cpu: list[float] = []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(args.interval_ms)
    last = [None, None]

    def tick() -> None:
        now, now_cpu = clock.nsecsElapsed() / 1e6, time.thread_time() * 1e3
        if last[0] is not None:
            late.append(max(0.0, now - last[0] - args.interval_ms))
            cpu.append(now_cpu - last[1])
        last[0], last[1] = now, now_cpu

    timer.timeout.connect(tick)
    app.tracing = args.trace
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()  # enable() profiles the calling (GUI) thread only
        profiler.enable()
    clock.start()
    timer.start()
    loop = QEventLoop()  # a real event loop (app.quit would also ask the window to close)
    started = time.monotonic()
    if args.job == "train":
        QTimer.singleShot(int(args.seconds * 1000), loop.quit)
    else:
        check = QTimer()
        check.setInterval(100)

        def done_yet() -> None:
            if not panel.is_busy():
                loop.quit()
            elif time.monotonic() - started > args.seconds and panel._job is not None:
                panel.cancel()

        check.timeout.connect(done_yet)
        check.start()
    loop.exec()
    timer.stop()
    app.tracing = False
    if profiler is not None:
        profiler.disable()
    seconds = time.monotonic() - started
    what = describe()
    if args.job == "train":
        panel.stop()
    wait_until(lambda: not panel.is_busy(), 300)
    a, c = np.array(late), np.array(cpu)
    job = ("CPU training (quick preset, losses every iteration, previews every 20)" if args.job == "train"
           else f"generating {args.count} volume(s) (quick preset) and showing their thumbnails")
    print(f"GUI event-loop latency over {seconds:.0f} s of {job}: {len(a)} ticks of {args.interval_ms} ms; {what}")
    print(f"late by: p50 {np.percentile(a, 50):.1f} ms   p99 {np.percentile(a, 99):.1f} ms   max {a.max():.1f} ms")
    print(f"GUI-thread CPU per tick: p50 {np.percentile(c, 50):.1f} ms   p99 {np.percentile(c, 99):.1f} ms   "
          f"max {c.max():.1f} ms   (load average {os.getloadavg()[0]:.1f})")
    if args.trace and app.slow:
        print("event deliveries of 4 ms or more on the GUI thread (count, total ms, worst ms):")
        worst = collections.defaultdict(float)
        for ms, name in app.worst:
            worst[name] = max(worst[name], ms)
        for name, n in sorted(app.slow.items(), key=lambda kv: -app.slow_ms[kv[0]])[:12]:
            print(f"  {name:<48} {n:5d} {app.slow_ms[name]:9.0f} {worst[name]:8.1f}")
    if profiler is not None:
        import pstats

        print("GUI thread, by own time (cProfile):")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(18)
    for each in window.panels.values():  # no "work in progress" question on close
        each.stop_and_wait()
    window.close()


if __name__ == "__main__":
    main()
