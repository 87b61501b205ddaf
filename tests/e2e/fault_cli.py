"""`python tests/e2e/fault_cli.py ARGS...` = `python main.py ARGS...` with the file-system faults of
the environment variable tests.faults.ENV planted first (a read-only folder, a full disk, ...)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.faults import install_from_env  # noqa: E402

if __name__ == "__main__":
    install_from_env()
    from main import main

    sys.exit(main(sys.argv[1:]))
