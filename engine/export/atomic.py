"""Write a folder atomically: into a temporary sibling ``OUT.partial-<random>``, renamed to ``OUT``
only when complete. Anything that goes wrong (Cancelled included) removes the temporary folder, so
an interrupted export never leaves a folder that looks finished."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from pathlib import Path

from engine import APP_NAME
from engine.errors import ExportError

log = logging.getLogger(__name__)


def is_previous_export(folder: Path) -> bool:
    """True for an empty folder or one holding a SynthVol manifest (safe to replace)."""
    if not folder.is_dir():
        return False
    if not any(folder.iterdir()):
        return True
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("application", {}).get("name") == APP_NAME


def check_target(final: Path, overwrite: bool) -> None:
    if not final.exists():
        return
    if not overwrite:
        raise ExportError(
            f"The export folder {final} already exists. Choose another folder, or allow overwriting."
        )
    if not is_previous_export(final):
        raise ExportError(
            f"The export folder {final} exists and is not a previous {APP_NAME} export; it will not be "
            "replaced. Choose another folder."
        )


class AtomicFolder:
    """``with AtomicFolder(out, overwrite) as tmp: ...write into tmp...; folder.commit()``."""

    def __init__(self, final: Path, overwrite: bool = False) -> None:
        self.final = Path(os.path.abspath(final))
        self.overwrite = overwrite
        check_target(self.final, overwrite)
        self.token = secrets.token_hex(4)
        self.tmp = self.final.with_name(f"{self.final.name}.partial-{self.token}")
        self.committed = False

    def __enter__(self) -> Path:
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self.tmp.mkdir()
        except OSError as exc:
            raise ExportError(f"Cannot create the export folder next to {self.final}: {exc}") from exc
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.committed:
            self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.tmp.exists():
            log.warning("Could not remove the unfinished export folder %s", self.tmp)

    def commit(self) -> Path:
        """Move the finished folder into place (replacing a previous export only now)."""
        check_target(self.final, self.overwrite)
        old = None
        try:
            if self.final.exists():
                old = self.final.with_name(f"{self.final.name}.old-{self.token}")
                os.replace(self.final, old)
            os.replace(self.tmp, self.final)
        except OSError as exc:
            if old is not None and not self.final.exists():
                os.replace(old, self.final)
            raise ExportError(f"Cannot move the finished export into {self.final}: {exc}") from exc
        self.committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final
