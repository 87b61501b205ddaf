"""Where the app keeps its settings and log: QSettings (INI) in the user's config folder, a log file
in the user's data folder. SYNTHVOL_HOME overrides both (tests give every test its own)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

ORG, APP = "SynthVol", "SynthVol"
MAX_RECENT = 10


def _home() -> Path | None:
    value = os.environ.get("SYNTHVOL_HOME")
    return Path(value) if value else None


def _user_dir(sub: str, location: QStandardPaths.StandardLocation) -> Path:
    home = _home()
    path = home / sub if home else Path(QStandardPaths.writableLocation(location)) / APP
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    return _user_dir("config", QStandardPaths.StandardLocation.GenericConfigLocation)


def data_dir() -> Path:
    return _user_dir("data", QStandardPaths.StandardLocation.GenericDataLocation)


def log_file() -> Path:
    folder = data_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "synthvol.log"


def default_runs_dir() -> Path:
    return data_dir() / "runs"


def app_settings() -> QSettings:
    return QSettings(str(config_dir() / "synthvol.ini"), QSettings.Format.IniFormat)


def read_bool(settings: QSettings, key: str, default: bool) -> bool:
    """QSettings hands back "true"/"false" strings from INI files: read with an explicit type."""
    value = settings.value(key, default)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes", "on")
    return bool(value)


def read_list(settings: QSettings, key: str) -> list[str]:
    value = settings.value(key, [])
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


def add_recent(settings: QSettings, key: str, path: str) -> list[str]:
    items = [p for p in read_list(settings, key) if p != path]
    items.insert(0, path)
    items = items[:MAX_RECENT]
    settings.setValue(key, items)
    return items
