"""SynthVol: `python main.py` opens the window; `python main.py <command>` runs the engine headless.

See `python main.py --help` and docs/ for the commands (scan, train, generate, evaluate, gui).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--":  # `torchrun ... main.py -- train --run R` (keeps torchrun off --run)
        argv = argv[1:]
    gui_flags = ("--data", "--run", "--screenshot", "--light")
    if not argv or argv[0] == "gui" or argv[0].split("=")[0] in gui_flags:
        from gui.app import run_gui

        return run_gui(argv[1:] if argv and argv[0] == "gui" else argv)
    from engine.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
