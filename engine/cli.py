"""The command-line interface over the engine (the CLI contract of DESIGN.md).

    python main.py scan DATA [--json]
    python main.py train --data DATA --run RUN [...]
    python main.py generate --run RUN --out OUT [...]
    python main.py evaluate --run RUN [--data DATA] --out REPORT [--json]

The arguments are in engine.cli_parsers, the commands in engine.cli_commands; ``main`` is the one
place errors are reported: a message and an exit code, never a traceback.
"""

from __future__ import annotations

import logging
import sys

from engine.cli_commands import EXIT_CANCELLED, EXIT_ERROR
from engine.cli_parsers import build_parser
from engine.errors import Cancelled, SynthVolError

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--":  # `torchrun ... -- train --run R` (keeps torchrun off --run)
        argv = argv[1:]
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
        return int(getattr(exc, "exit_code", EXIT_ERROR))
    except OSError as exc:  # a file the command could not read or write (permissions, a full disk)
        from engine.training.checkpoints import file_error_text

        print(f"Error: {file_error_text(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug or a reader we do not control: a message, never a traceback
        log.debug("%s failed", args.command, exc_info=True)
        print(
            f"Error: {args.command} failed unexpectedly ({type(exc).__name__}: {exc}). Please report this "
            "(run again with -v for the details).",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":  # `python -m engine.cli` (how torchrun starts the trainer processes)
    sys.exit(main())
