"""The command-line interface over the engine (the CLI contract of DESIGN.md).

    python main.py scan DATA [--json]
    python main.py train --data DATA --run RUN [...]
    python main.py generate --run RUN --out OUT [...]
    python main.py evaluate --run RUN --data DATA --out REPORT [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from engine import __version__
from engine.errors import Cancelled, SynthVolError

EXIT_OK, EXIT_ERROR, EXIT_NO_DATA, EXIT_CANCELLED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    from engine.cli_commands import register_commands

    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="SynthVol: labeled synthetic CT/MR volumes from your own data, offline.",
    )
    parser.add_argument("--version", action="version", version=f"SynthVol {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        return int(args.func(args) or 0)
    except Cancelled as exc:
        print(f"\nStopped: {exc}", file=sys.stderr)
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        print("\nStopped by Ctrl+C.", file=sys.stderr)
        return EXIT_CANCELLED
    except SynthVolError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def print_json(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))
