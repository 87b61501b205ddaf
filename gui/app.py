"""Start the window: `python main.py [gui] [--data DIR] [--run DIR] [--screenshot OUT.png]`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python main.py gui", description="Open the SynthVol window.")
    p.add_argument("--data", type=Path, help="open this dataset folder")
    p.add_argument("--run", type=Path, help="open this training run folder")
    p.add_argument("--screenshot", type=Path, metavar="OUT.png",
                   help="render the window with each panel filled, write OUT.png and OUT-<panel>.png, then exit")
    p.add_argument("--light", action="store_true", help="light theme")
    return p.parse_args(argv)


def run_gui(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.screenshot and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow
    from gui.theme import apply_theme

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("SynthVol")
    app.setOrganizationName("SynthVol")
    apply_theme(app, dark=not args.light)
    window = MainWindow()
    if args.screenshot:
        from gui.screenshots import take_screenshots

        return take_screenshots(window, args.screenshot, args.data, args.run)
    window.show()
    if args.data:
        window.open_dataset(args.data)
    if args.run:
        window.open_run(args.run)
    return app.exec()
