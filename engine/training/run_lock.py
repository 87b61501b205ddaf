"""One process at a time on a run folder: train, generate and evaluate take its lock.

The lock is the file ``TrainingRun.lock_path``, held with an exclusive ``flock`` for as long as the
work runs and holding who took it (pid, host, process start, purpose, time), so a refusal can say
who is using the run. A lock whose owner is gone is stale and taken over: the kernel drops a dead
process's ``flock`` by itself; where ``flock`` is not available (some network file systems,
Windows), the record decides: same host and a dead pid (or a pid reused by another process) is
stale. Acquired inside the engine functions, so the CLI and the window get it alike.
"""

from __future__ import annotations

import datetime
import errno
import json
import logging
import os
import socket
from pathlib import Path

from engine.errors import SynthVolError
from engine.training.run_folder import TrainingRun

try:  # POSIX
    import fcntl
except ImportError:  # Windows: the lock record alone
    fcntl = None

log = logging.getLogger(__name__)


class RunBusy(SynthVolError):
    """Another process holds the run folder's lock."""


class RunFolderError(SynthVolError):
    """The run folder cannot be used at all (a file, not writable)."""


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (Linux: clock ticks since boot), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()
    except (OSError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except OSError:
        return False
    return True


def holder_is_gone(record: dict) -> bool:
    """A lock record whose process is not running any more (judged on this host only)."""
    if record.get("hostname") != socket.gethostname():
        return False  # another computer: its processes cannot be seen from here
    try:
        pid = int(record["pid"])
    except (KeyError, TypeError, ValueError):
        return True
    if not pid_alive(pid):
        return True
    started = record.get("process_start")
    now = process_start(pid)
    return bool(started and now and started != now)  # the pid belongs to another process now


def describe(record: dict) -> str:
    what = record.get("purpose") or "work"
    return (
        f"{what} by process {record.get('pid', '?')} on {record.get('hostname', '?')} since "
        f"{record.get('started', '?')}"
    )


class RunLock:
    """``with RunLock(run_folder, "training"): ...`` (re-entrant within one object)."""

    def __init__(self, folder: Path | str, purpose: str, create: bool = False) -> None:
        self.run = TrainingRun(Path(folder))
        self.path = self.run.lock_path
        self.purpose = purpose
        self.create = create
        self.fd: int | None = None
        self.notes: list[str] = []
        self._made_folder = False

    def record(self) -> dict:
        pid = os.getpid()
        return {
            "pid": pid,
            "hostname": socket.gethostname(),
            "process_start": process_start(pid),
            "purpose": self.purpose,
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        }

    def _check_folder(self) -> None:
        folder = self.run.folder
        if folder.exists() and not folder.is_dir():
            raise RunFolderError(f"{folder} is a file, not a run folder. Choose a folder for the run.")
        if not folder.exists():
            if not self.create:
                raise RunFolderError(f"{folder}: no such run folder.")
            try:
                folder.mkdir(parents=True)
                self._made_folder = True
            except FileExistsError:
                pass
            except OSError as exc:
                raise RunFolderError(
                    f"Cannot create the run folder {folder} ({exc.strerror or exc}). Choose a folder you can write to."
                ) from None

    def acquire(self) -> RunLock:
        if self.fd is not None:
            return self
        self._check_folder()
        for _ in range(5):  # the file may be replaced between open and lock: try again
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                self._forget_folder()
                raise RunFolderError(
                    f"Cannot write into the run folder {self.run.folder} ({exc.strerror or exc}): it is read-only "
                    "or full. Choose a folder you can write to."
                ) from None
            try:
                if not self._lock(fd):
                    continue
            except BaseException:
                os.close(fd)
                raise
            self.fd = fd
            self._write_record()
            return self
        raise RunBusy(f"{self.run.folder}: its lock file {self.path.name} keeps changing; try again.")

    def _lock(self, fd: int) -> bool:
        """Lock the open file ``fd``; False when the path now names another file (retry)."""
        previous = _read_record(fd)
        flocked = False
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                flocked = True
            except BlockingIOError:
                raise RunBusy(self._busy_text(previous)) from None
            except OSError as exc:
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    raise
        if not flocked and previous and previous.get("pid") and not holder_is_gone(previous):
            raise RunBusy(self._busy_text(previous))
        try:
            same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            return False
        if previous and previous.get("pid"):
            text = f"{self.run.folder}: a stale lock ({describe(previous)}; that process is gone) was taken over."
            self.notes.append(text)
            log.info("%s", text)
        return True

    def _busy_text(self, record: dict | None) -> str:
        who = describe(record) if record else "another process"
        return (
            f"{self.run.folder} is in use ({who}). One run folder takes one job at a time: wait until it "
            f"finishes, or stop it. If no such process is running any more, delete {self.path}."
        )

    def _write_record(self) -> None:
        data = (json.dumps(self.record()) + "\n").encode()
        try:
            os.ftruncate(self.fd, 0)
            os.lseek(self.fd, 0, os.SEEK_SET)
            os.write(self.fd, data)
            os.fsync(self.fd)
        except OSError as exc:
            self.release()
            raise RunFolderError(
                f"Cannot write into the run folder {self.run.folder} ({exc.strerror or exc}): it is read-only "
                "or full. Free some space or choose another folder."
            ) from None

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            if _same_file(self.fd, self.path):
                self.path.unlink(missing_ok=True)  # while still locked: the next owner makes a new file
        except OSError:
            pass
        finally:
            os.close(self.fd)  # drops the flock
            self.fd = None
        self._forget_folder()

    def _forget_folder(self) -> None:
        """A run folder this lock made and nothing else wrote into is removed again."""
        if self._made_folder:
            try:
                self.run.folder.rmdir()
            except OSError:
                pass
            self._made_folder = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_record(fd: int) -> dict | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096)
        data = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except OSError:
        return False


def read_lock(folder: Path | str) -> dict | None:
    """Who holds the run's lock now (None when nobody does), for a window to show."""
    path = TrainingRun(Path(folder)).lock_path
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        record = _read_record(fd)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return record or {}
            except OSError:
                pass
            else:
                return None  # nobody holds it
        return record if record and not holder_is_gone(record) else None
    finally:
        os.close(fd)
