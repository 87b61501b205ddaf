"""Write a folder atomically: into a temporary folder, renamed to ``OUT`` only when complete.
Anything that goes wrong (Cancelled included) removes the temporary folder, so an interrupted
export never leaves a folder that looks finished.

With ``work_dir`` (an export of a run: the run's ``work/`` entry of this process) the temporary
folder lives there, never beside the export, and a killed export's leftovers are removed with the
run's stale work (``TrainingRun.remove_stale_work``). Without it (a plain ``export_dataset``
call) it is the sibling ``OUT.partial-<random>``. When the two are on different file systems the
finished folder is copied into a hidden sibling first (recorded in ``work_dir`` so that a kill
during the copy is cleaned up too), then renamed."""

from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import shutil
from pathlib import Path

from engine import APP_NAME
from engine.errors import ExportError
from engine.training.run_folder import WORK_ELSEWHERE

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

    def __init__(self, final: Path, overwrite: bool = False, work_dir: Path | None = None) -> None:
        self.final = Path(os.path.abspath(final))
        self.overwrite = overwrite
        self.work_dir = Path(work_dir) if work_dir is not None else None
        check_target(self.final, overwrite)
        self.token = secrets.token_hex(4)
        if self.work_dir is not None:
            self.tmp = self.work_dir / "export"
        else:
            self.tmp = self.final.with_name(f"{self.final.name}.partial-{self.token}")
        self.committed = False

    def __enter__(self) -> Path:
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self.tmp.mkdir(parents=True)
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

    def _park(self, path: Path, name: str) -> Path:
        """Move ``path`` out of the way: into the work folder, else (or across file systems) to a
        hidden sibling, recorded in the work folder so a kill is cleaned up too."""
        sibling = self.final.with_name(f".{self.final.name}.{name}-{self.token}")
        if self.work_dir is not None:
            try:
                os.replace(path, self.work_dir / name)
                return self.work_dir / name
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
            self._record_elsewhere(sibling)
        os.replace(path, sibling)
        return sibling

    def _record_elsewhere(self, path: Path) -> None:
        ledger = self.work_dir / WORK_ELSEWHERE
        try:
            known = json.loads(ledger.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = []
        ledger.write_text(json.dumps([*known, str(path)]), encoding="utf-8")

    def commit(self) -> Path:
        """Move the finished folder into place (replacing a previous export only now)."""
        check_target(self.final, self.overwrite)
        old = None
        try:
            if self.final.exists():
                old = self._park(self.final, "old")
            self._place()
        except OSError as exc:
            if old is not None and old.exists() and not self.final.exists():
                shutil.move(str(old), str(self.final))
            raise ExportError(f"Cannot move the finished export into {self.final}: {exc}") from exc
        self.committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def _place(self) -> None:
        try:
            os.replace(self.tmp, self.final)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        # the work folder is on another file system: copy into a hidden sibling, then rename
        sibling = self.final.with_name(f".{self.final.name}.partial-{self.token}")
        if self.work_dir is not None:
            self._record_elsewhere(sibling)
        try:
            shutil.copytree(self.tmp, sibling)
            os.replace(sibling, self.final)
        finally:
            shutil.rmtree(sibling, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
