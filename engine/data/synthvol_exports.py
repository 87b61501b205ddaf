"""SynthVol's own exports as the data layer sees them: recognised by their manifest.json, left out
of a dataset they were written into, read back as cases when scanned on their own, and never
written inside a dataset (the next scan would take their synthetic cases for real ones)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from engine import APP_NAME
from engine.errors import ExportError

MANIFEST = "manifest.json"
# the sub-folder read when an export's top folder is scanned: each holds every case once
READ_ORDER = ("nifti", "dicom", "nnUNet_raw")


def read_export_manifest(folder: Path) -> dict | None:
    """The manifest of a SynthVol export in ``folder``, or None when it is not one."""
    path = Path(folder) / MANIFEST
    try:
        if not path.is_file() or path.stat().st_size > 64 << 20:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("application"), dict):
        return None
    return data if data["application"].get("name") == APP_NAME and "cases" in data else None


def is_synthvol_export(folder: Path) -> bool:
    return read_export_manifest(folder) is not None


def export_root_of(path: Path) -> Path | None:
    """The export folder that ``path`` is (or lies inside), up to three levels up."""
    path = Path(path)
    for folder in [path, *list(path.parents)[:3]]:
        if is_synthvol_export(folder):
            return folder
    return None


def export_label_names(export_root: Path) -> dict[int, str]:
    """Label value -> name from an export's manifest (its label table)."""
    manifest = read_export_manifest(export_root) or {}
    names: dict[int, str] = {}
    for entry in manifest.get("label_table", []) or []:
        try:
            names[int(entry["value"])] = str(entry["name"])
        except (KeyError, TypeError, ValueError):
            continue
    return names


def export_read_folder(export_root: Path) -> Path | None:
    """Which part of an export a scan of its top folder reads (the first format present)."""
    for name in READ_ORDER:
        folder = Path(export_root) / name
        if folder.is_dir():
            if name == "nnUNet_raw":
                inner = sorted(p for p in folder.iterdir() if p.is_dir() and (p / "dataset.json").is_file())
                return inner[0] if inner else None
            return folder
    return None


def _real(path: Path) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


def check_export_target(out: Path, datasets: list[Path]) -> None:
    """Refuse an export folder inside (or holding) a dataset the run was trained on."""
    target = _real(out)
    for dataset in datasets:
        if dataset is None:
            continue
        root = _real(dataset)
        if root.is_file():
            root = root.parent
        if target == root or root in target.parents:
            raise ExportError(
                f"The export folder {out} lies inside the dataset {dataset}: the next scan of the dataset "
                "would read the synthetic cases as real ones. Choose a folder outside the dataset."
            )
        if target in root.parents:
            raise ExportError(
                f"The export folder {out} holds the dataset {dataset}; writing (or replacing) it there "
                "could mix synthetic with real cases or remove the dataset. Choose a folder outside it."
            )
    check_writable(target, out)


def check_writable(target: Path, shown: Path | None = None) -> None:
    """ExportError unless a folder can be made where ``target`` is to go (tried, then removed)."""
    shown = shown or target
    place = target.parent
    while not place.exists() and place != place.parent:
        place = place.parent
    if not place.is_dir():
        raise ExportError(f"{shown}: {place} is a file, not a folder; choose another place for the export.")
    try:
        probe = tempfile.mkdtemp(prefix=".synthvol-write-test-", dir=place)
    except OSError as exc:
        raise ExportError(
            f"Cannot write the export {shown}: {place} is not writable ({exc.strerror or exc}). "
            "Choose a folder you can write to."
        ) from None
    os.rmdir(probe)


def run_dataset_folders(run) -> list[Path]:
    """The dataset folder(s) a training run (a TrainingRun) was trained on, from its data manifest."""
    try:
        dataset = run.read_manifest().get("dataset")
    except (OSError, ValueError, AttributeError):
        return []
    return [Path(dataset)] if dataset else []
