"""Start the window: `python main.py [gui] [--data DIR] [--run DIR] [--screenshot OUT.png [--size WxH,...]]`.

Before Qt is imported, a window that would open on the xcb platform (Linux without Wayland) is
checked by gui.platform_check: without a DISPLAY, or with a system library Qt's xcb plugin needs
missing, this says so in words with the install command and exits with EXIT_NO_WINDOW, instead of
Qt's "could not load the Qt platform plugin" abort.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

EXIT_NO_WINDOW = 3  # gui.platform_check.EXIT_MISSING: the window cannot open here


def parse_sizes(text: str | None) -> list[tuple[int, int]]:
    """``1280x720,1920x1080`` -> [(1280, 720), (1920, 1080)]; ValueError naming a bad one."""
    sizes = []
    for part in (text or "").replace(" ", "").split(","):
        if not part:
            continue
        try:
            w, h = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise ValueError(
                f"--size {part!r}: give the window size as WIDTHxHEIGHT, e.g. 1280x720"
            ) from None
        if not (320 <= w <= 8000 and 240 <= h <= 8000):
            raise ValueError(f"--size {part!r}: from 320x240 to 8000x8000")
        sizes.append((w, h))
    return sizes


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python main.py gui", description="Open the SynthVol window.")
    p.add_argument("--data", type=Path, help="open this dataset folder")
    p.add_argument("--run", type=Path, help="open this training run folder")
    p.add_argument(
        "--screenshot",
        type=Path,
        metavar="OUT.png",
        help="render the window with each panel filled, write OUT.png and OUT-<panel>.png, then exit",
    )
    p.add_argument(
        "--size",
        metavar="WxH[,WxH...]",
        help="with --screenshot: window sizes, e.g. 1280x720,1920x1080 (files OUT-<panel>-<W>x<H>.png)",
    )
    p.add_argument("--light", action="store_true", help="light theme")
    args = p.parse_args(argv)
    if args.size and not args.screenshot:
        p.error("--size goes with --screenshot")
    try:
        args.sizes = parse_sizes(args.size)
    except ValueError as exc:
        p.error(str(exc))
    return args


def qt_platform(environ=os.environ, system: str = sys.platform) -> str:
    """The platform plugin Qt will pick: $QT_QPA_PLATFORM's first choice, else on Linux wayland
    in a Wayland session and xcb otherwise; "" on other systems (cocoa, windows: nothing to check)."""
    chosen = (environ.get("QT_QPA_PLATFORM") or "").split(";")[0].split(":")[0].strip().lower()
    if chosen:
        return chosen
    if not system.startswith("linux"):
        return ""
    return "wayland" if environ.get("WAYLAND_DISPLAY") else "xcb"


def window_problem(environ=os.environ, system: str = sys.platform) -> str | None:
    """Why the window cannot open on this machine (with what to do), or None when it can (or when
    it is not for this check to say: another platform, or a check that could not run)."""
    if qt_platform(environ, system) != "xcb":
        return None
    if not environ.get("DISPLAY"):
        return (
            "SynthVol cannot open its window: there is no display (DISPLAY is not set).\n"
            "Start it from a desktop session, over `ssh -X`, or under a virtual display "
            "(`xvfb-run python main.py`). The commands in `python main.py --help` need no window."
        )
    from gui import platform_check  # standard library only: safe before Qt is imported

    report = platform_check.check()
    if report.problem is not None:  # the check itself could not run (no ldd...): let Qt try
        logging.getLogger(__name__).warning("Qt platform check skipped: %s", report.problem)
        return None
    return None if report.ok else report.message()


def run_gui(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.screenshot and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    problem = window_problem()
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_NO_WINDOW
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

        return take_screenshots(window, args.screenshot, args.data, args.run, args.sizes)
    window.show()
    if args.data:
        window.open_dataset(args.data)
    if args.run:
        window.open_run(args.run)
    return app.exec()
