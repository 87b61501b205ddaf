"""Opening an export in the viewer clinicians already use: 3D Slicer.

``find_slicer`` looks for the Slicer launcher the way a user would: ``$SYNTHVOL_SLICER`` (a path
to the executable), then ``Slicer`` on PATH, then the folders its installers use (Linux tarballs
unpacked in the home folder or /opt, macOS /Applications, Windows' per-user and Program Files
installs), newest version first. ``slicer_cases`` lists the cases of an export's ``slicer/`` folder
(perf's engine/export/slicer.py writes them), and ``slicer_command`` is the command line that opens
one: the image as a volume and the ``.seg.nrrd`` as a segmentation with its named, coloured
segments (``slicer.util.loadVolume`` / ``loadSegmentation`` through ``--python-code``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.export import slicer
from engine.export.config import FORMAT_FOLDERS

ENV_VAR = "SYNTHVOL_SLICER"
NAMES = ("Slicer", "slicer", "Slicer.exe")


@dataclass(frozen=True)
class SlicerCase:
    case_id: str
    image: Path
    segmentation: Path


def _version_key(path: Path) -> tuple:
    """``Slicer-5.6.2-linux-amd64`` sorts after ``Slicer-5.2.1-...`` (plain names last)."""
    numbers = re.findall(r"\d+", path.name)
    return tuple(int(n) for n in numbers[:3]) or (-1,)


def _install_dirs(env: Mapping[str, str], home: Path) -> list[Path]:
    """Where Slicer's installers put it (each may hold several versions)."""
    if sys.platform == "darwin":
        return [Path("/Applications"), home / "Applications"]
    if sys.platform.startswith("win"):
        dirs = [Path(env[k]) / "slicer.org" for k in ("LOCALAPPDATA",) if env.get(k)]
        dirs += [Path(env[k]) for k in ("ProgramFiles", "ProgramW6432") if env.get(k)]
        return dirs
    return [home, home / "Applications", home / "opt", Path("/opt"), Path("/usr/local")]


def _launcher_in(folder: Path) -> Path | None:
    """The launcher inside one Slicer install folder (Slicer-5.6.2-linux-amd64/, Slicer.app/...)."""
    for candidate in (folder / "Slicer", folder / "Slicer.exe", folder / "Contents" / "MacOS" / "Slicer"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_slicer(env: Mapping[str, str] | None = None, home: Path | None = None) -> Path | None:
    """The 3D Slicer executable, or None when it is not installed (or not where users put it)."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else Path(home)
    given = env.get(ENV_VAR, "").strip()
    if given:
        path = Path(given).expanduser()
        return path if path.is_file() and os.access(path, os.X_OK) else None
    for name in NAMES:
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return Path(found)
    installs = []
    for folder in _install_dirs(env, home):
        try:
            installs += [p for p in folder.iterdir() if p.is_dir() and p.name.lower().startswith("slicer")]
        except OSError:
            continue
    for folder in sorted(installs, key=_version_key, reverse=True):
        launcher = _launcher_in(folder)
        if launcher is not None:
            return launcher
    return None


def slicer_cases(out_dir: Path) -> list[SlicerCase]:
    """The cases of an export that has the Slicer format (image and segmentation both present)."""
    folder = Path(out_dir) / FORMAT_FOLDERS["slicer"]
    suffix = slicer.segmentation_name("")
    cases = []
    for seg in sorted(folder.glob(f"*{suffix}")) if folder.is_dir() else []:
        case_id = seg.name[: -len(suffix)]
        image = folder / slicer.image_name(case_id)
        if case_id and image.is_file():
            cases.append(SlicerCase(case_id, image, seg))
    return cases


def slicer_command(executable: Path, case: SlicerCase) -> list[str]:
    """The command line that opens ``case`` in 3D Slicer: the volume, then its segmentation."""
    code = (
        "import slicer; "
        f"volume = slicer.util.loadVolume({str(case.image)!r}); "
        f"segmentation = slicer.util.loadSegmentation({str(case.segmentation)!r}); "
        "segmentation.SetReferenceImageGeometryParameterFromVolumeNode(volume)"
    )
    return [str(executable), "--python-code", code]
