"""GUI responsiveness while CPU training runs in the worker: a 10 ms QTimer on the GUI thread
measures how late each tick fires (event-loop latency); prints p50 / p99 / max.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_latency.py --seconds 60
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--interval-ms", type=int, default=10)
    args = p.parse_args()

    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from engine.resources import DEMO_DATASET
    from engine.training.config import TrainingConfig
    from gui.main_window import MainWindow
    from gui.screenshots import wait_until
    from gui.theme import apply_theme

    app = QApplication.instance() or QApplication([])
    apply_theme(app)
    window = MainWindow()
    window.resize(1440, 900)
    window.show()
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

    late: list[float] = []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(args.interval_ms)
    last = [None]

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        if last[0] is not None:
            late.append(max(0.0, now - last[0] - args.interval_ms))
        last[0] = now

    timer.timeout.connect(tick)
    clock.start()
    timer.start()
    loop = QEventLoop()  # a real event loop (app.quit would also ask the window to close)
    QTimer.singleShot(int(args.seconds * 1000), loop.quit)
    loop.exec()
    timer.stop()
    iterations = panel.stats["iteration"].text()
    panel.stop()
    wait_until(lambda: not panel.is_busy(), 120)
    a = np.array(late)
    print(f"GUI event-loop latency over {args.seconds:.0f} s of CPU training (quick preset, losses every "
          f"iteration, previews every 20): {len(a)} ticks of {args.interval_ms} ms; iteration {iterations}")
    print(f"p50 {np.percentile(a, 50):.1f} ms   p99 {np.percentile(a, 99):.1f} ms   max {a.max():.1f} ms")
    window.close()


if __name__ == "__main__":
    main()
