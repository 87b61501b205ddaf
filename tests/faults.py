"""File-system faults for tests: a read-only folder, a full disk, an unreadable file, and ITK's
silent short write, planted for chosen paths only.

Tests run as root in some places (chmod does not stop root), and a real full disk or read-only
mount needs privileges CI lacks; so the faults are made where the engine meets the OS: Python's
``open``/``os.open``/``os.mkdir``/``os.replace``/``os.link``/``os.unlink`` raise the errno the kernel would
(EACCES, ENOSPC), and ``SimpleITK.WriteImage`` behaves as ITK's NIfTI writer does on a full disk
(a short file, no exception). ``install_from_env`` plants them in a CLI process started by a test
(``tests/e2e/fault_cli.py``), so the real command line meets them.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
from pathlib import Path

ENV = "SYNTHVOL_TEST_FAULTS"
SHORT_WRITE_FRACTION = 0.5  # ITK on a full 64 KiB tmpfs kept what fitted (65536 of 164192 bytes)


def _name(path) -> str:
    return os.fsdecode(os.fspath(path))


def _real(path) -> str:
    return os.path.realpath(_name(path))


class Faults:
    def __init__(self, readonly=(), full=(), unreadable=(), short_itk=()) -> None:
        self.readonly = [_real(p) for p in readonly]
        self.full = [_real(p) for p in full]
        self.unreadable = [_real(p) for p in unreadable]
        self.short_itk = [_real(p) for p in short_itk]
        self._saved: list[tuple[object, str, object]] = []

    @staticmethod
    def _under(path, roots: list[str]) -> bool:
        if isinstance(path, int):
            return False
        p = _real(path)
        return any(p == r or p.startswith(r.rstrip("/") + "/") for r in roots)

    def _check_write(self, path, creating_in_parent: bool = False) -> None:
        target = Path(_name(path))
        where = target.parent if creating_in_parent else target
        if self._under(where, self.readonly) or self._under(target, self.readonly):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), _name(path))
        if self._under(target, self.full):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), _name(path))

    def _check_read(self, path) -> None:
        if self._under(path, self.unreadable):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), _name(path))

    def _patch(self, owner, name: str, new) -> None:
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, new)

    def install(self) -> Faults:
        real_open, real_os_open = builtins.open, os.open
        real_mkdir, real_replace, real_rename, real_link, real_unlink = (
            os.mkdir,
            os.replace,
            os.rename,
            os.link,
            os.unlink,
        )

        def fake_open(file, mode="r", *args, **kwargs):
            if not isinstance(file, int):
                if any(c in mode for c in "wax+"):
                    self._check_write(file)
                else:
                    self._check_read(file)
            return real_open(file, mode, *args, **kwargs)

        def fake_os_open(path, flags, *args, **kwargs):
            writes = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
            if writes:
                self._check_write(path)
            else:
                self._check_read(path)
            return real_os_open(path, flags, *args, **kwargs)

        def fake_mkdir(path, *args, **kwargs):
            self._check_write(path, creating_in_parent=True)
            return real_mkdir(path, *args, **kwargs)

        def fake_replace(src, dst, *args, **kwargs):
            self._check_write(dst, creating_in_parent=True)
            return real_replace(src, dst, *args, **kwargs)

        def fake_rename(src, dst, *args, **kwargs):
            self._check_write(dst, creating_in_parent=True)
            return real_rename(src, dst, *args, **kwargs)

        def fake_link(src, dst, *args, **kwargs):
            self._check_write(dst, creating_in_parent=True)
            return real_link(src, dst, *args, **kwargs)

        def fake_unlink(path, *args, **kwargs):
            if self._under(Path(_name(path)).parent, self.readonly):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), _name(path))
            return real_unlink(path, *args, **kwargs)

        self._patch(builtins, "open", fake_open)
        self._patch(io, "open", fake_open)
        self._patch(os, "open", fake_os_open)
        self._patch(os, "mkdir", fake_mkdir)
        self._patch(os, "replace", fake_replace)
        self._patch(os, "rename", fake_rename)
        self._patch(os, "link", fake_link)
        self._patch(os, "unlink", fake_unlink)
        self._patch_itk()
        return self

    def _patch_itk(self) -> None:
        import SimpleITK as sitk

        real_write = sitk.WriteImage

        def fake_write(image, fileName, useCompression=False, *args, **kwargs):
            path = _name(fileName)
            if self._under(Path(path).parent, self.readonly):
                raise RuntimeError(
                    f"Exception thrown in SimpleITK ImageFileWriter_Execute: ITK ERROR: "
                    f"Could not open file: {path} for writing."
                )
            real_write(image, path, useCompression, *args, **kwargs)
            if self._under(path, self.full) or self._under(path, self.short_itk):
                with builtins.open(path, "r+b") as fh:  # what ITK leaves on a full disk, and no error
                    fh.truncate(int(os.path.getsize(path) * SHORT_WRITE_FRACTION))

        self._patch(sitk, "WriteImage", fake_write)

    def uninstall(self) -> None:
        while self._saved:
            owner, name, value = self._saved.pop()
            setattr(owner, name, value)

    def __enter__(self) -> Faults:
        return self.install()

    def __exit__(self, *exc) -> None:
        self.uninstall()

    def to_env(self) -> dict[str, str]:
        spec = {
            "readonly": self.readonly,
            "full": self.full,
            "unreadable": self.unreadable,
            "short_itk": self.short_itk,
        }
        return {ENV: json.dumps(spec)}


def install_from_env() -> Faults | None:
    spec = os.environ.get(ENV)
    return Faults(**json.loads(spec)).install() if spec else None
