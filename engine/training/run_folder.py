"""The run folder of DESIGN.md, and the only code that knows its layout:

    config.json  label_table.json  normalization.json  data_manifest.json  metrics.jsonl
    status.json  control  run.lock  release_key.json
    samples/iter_<N>.png  checkpoints/last.pt ckpt_<N>.pt  gallery/syn_<N>/  quality/  work/

``work/`` holds work in progress (a generate's temporary gallery, an export being written, the
settings of a torchrun launch); each entry records the process that owns it, and
``remove_stale_work`` clears what a killed process left behind. The GUI and the CLI ask this class
for paths and contents and never name a file inside a run folder themselves.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.data.labels import LabelTable
from engine.data.normalization import IntensityNormalization
from engine.data.split import DataSplit
from engine.errors import TrainingError

CONFIG = "config.json"
LABEL_TABLE = "label_table.json"
NORMALIZATION = "normalization.json"
DATA_MANIFEST = "data_manifest.json"
METRICS = "metrics.jsonl"
STATUS = "status.json"
CONTROL = "control"
LOCK = "run.lock"
RELEASE_KEY = "release_key.json"
SAMPLES = "samples"
CHECKPOINTS = "checkpoints"
GALLERY = "gallery"
QUALITY = "quality"
TENSORBOARD = "tensorboard"  # TensorBoard event files (engine/training/tensorboard_log.py)
WORK = "work"
# every name the layout puts directly inside a run folder (a test keeps gui/ from naming them)
RUN_FOLDER_NAMES = (
    CONFIG, LABEL_TABLE, NORMALIZATION, DATA_MANIFEST, METRICS, STATUS, CONTROL, LOCK, RELEASE_KEY,
    SAMPLES, CHECKPOINTS, GALLERY, QUALITY, WORK,
)
_OWNER = ".owner.json"  # inside each work/ entry: the process that made it
WORK_ELSEWHERE = "elsewhere.json"  # inside a work/ entry: temporary folders it made outside the run
_ORPHAN_AGE_S = 3600.0  # a work/ entry without an owner record older than this is stale


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except OSError:
        return False
    return True


@dataclass
class TrainingRun:
    folder: Path

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)

    # ---- paths -----------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.folder / CONFIG

    @property
    def label_table_path(self) -> Path:
        return self.folder / LABEL_TABLE

    @property
    def normalization_path(self) -> Path:
        return self.folder / NORMALIZATION

    @property
    def manifest_path(self) -> Path:
        return self.folder / DATA_MANIFEST

    @property
    def metrics_path(self) -> Path:
        return self.folder / METRICS

    @property
    def samples_dir(self) -> Path:
        return self.folder / SAMPLES

    @property
    def checkpoints_dir(self) -> Path:
        return self.folder / CHECKPOINTS

    @property
    def control_path(self) -> Path:
        """A small file a trainer in another process polls for stop/pause ("stop" / "pause" / "run")."""
        return self.folder / CONTROL

    @property
    def status_path(self) -> Path:
        return self.folder / STATUS

    @property
    def lock_path(self) -> Path:
        """The lock file that keeps two trainers (or a trainer and a generate) off one run."""
        return self.folder / LOCK

    @property
    def gallery_dir(self) -> Path:
        """The generated samples the window browses (syn_0001/, ...)."""
        return self.folder / GALLERY

    @property
    def quality_dir(self) -> Path:
        """The window's quality report of this run (report.json, report.html, pictures)."""
        return self.folder / QUALITY

    @property
    def tensorboard_dir(self) -> Path:
        """TensorBoard event files of the training (``tensorboard --logdir RUNS_FOLDER``)."""
        return self.folder / TENSORBOARD

    @property
    def work_dir(self) -> Path:
        """Work in progress; never beside an export, always inside the run."""
        return self.folder / WORK

    @property
    def release_key_path(self) -> Path:
        return self.folder / RELEASE_KEY

    def exists(self) -> bool:
        return self.config_path.is_file()

    def create(self) -> None:
        for d in (self.folder, self.samples_dir, self.checkpoints_dir):
            d.mkdir(parents=True, exist_ok=True)

    # ---- writing ---------------------------------------------------------------------------
    def write_config(self, data: dict) -> None:
        _write_json(self.config_path, data)

    def write_label_table(self, table: LabelTable) -> None:
        _write_json(self.label_table_path, table.to_json())

    def write_normalization(self, norm: IntensityNormalization) -> None:
        _write_json(self.normalization_path, norm.to_json())

    def write_manifest(self, data: dict) -> None:
        _write_json(self.manifest_path, data)

    def write_status(self, data: dict) -> None:
        _write_json(self.status_path, data)

    def append_metrics(self, record: dict) -> None:
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()

    def truncate_metrics(self, after_iteration: int) -> int:
        """Drop metric lines logged after ``after_iteration`` (work lost with a crash, redone on
        resume) and any half-written last line. Returns the number of lines dropped."""
        if not self.metrics_path.is_file():
            return 0
        keep, dropped = [], 0
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                dropped += 1
                continue
            if int(rec.get("iteration", 0)) <= after_iteration:
                keep.append(line)
            else:
                dropped += 1
        tmp = self.metrics_path.with_name(f".{METRICS}.tmp")
        tmp.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
        os.replace(tmp, self.metrics_path)
        return dropped

    # ---- reading ---------------------------------------------------------------------------
    def read_config(self) -> dict:
        if not self.config_path.is_file():
            raise TrainingError(f"{self.folder}: not a SynthVol run folder (no {CONFIG}).")
        return json.loads(self.config_path.read_text(encoding="utf-8"))

    def read_training_config(self):
        """The run's own TrainingConfig (the ``training`` block of config.json)."""
        from engine.training.config import TrainingConfig

        try:
            return TrainingConfig.from_json(self.read_config()["training"])
        except KeyError:
            raise TrainingError(f"{self.config_path}: no training settings in it.") from None

    def read_label_table(self) -> LabelTable:
        return LabelTable.load(self.label_table_path)

    def label_colors(self) -> list[tuple[int, int, int]]:
        """One colour per class (class i = the i-th label value), as the previews draw them."""
        table = self.read_label_table()
        return [tuple(table.entries[v].color) for v in table.values]

    def read_normalization(self) -> IntensityNormalization:
        return IntensityNormalization.load(self.normalization_path)

    def read_manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def read_split(self) -> DataSplit:
        return DataSplit.from_json(self.read_manifest()["split"])

    def dataset_folder(self) -> Path | None:
        """The dataset the run was trained on, as recorded (None when the record is unreadable)."""
        try:
            return Path(self.read_manifest()["dataset"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def read_metrics(self) -> list[dict]:
        if not self.metrics_path.is_file():
            return []
        out = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def tail_metrics(self, offset: int = 0) -> tuple[list[dict], int]:
        """The metric records written after byte ``offset`` (whole lines only) and the offset to
        ask from next time: how a window follows a trainer running in another process."""
        try:
            with open(self.metrics_path, "rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n") + 1
        records = []
        for line in data[:end].decode("utf-8", "replace").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records, offset + end

    def metrics_size(self) -> int:
        try:
            return self.metrics_path.stat().st_size
        except FileNotFoundError:
            return 0

    def read_status(self) -> dict:
        """status.json (what a trainer says it is doing), or {} when there is none yet."""
        try:
            data = json.loads(self.status_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def sample_images(self) -> list[Path]:
        return sorted(self.samples_dir.glob("*.png")) if self.samples_dir.is_dir() else []

    @staticmethod
    def sample_iteration(path: Path) -> int | None:
        """The iteration of a preview PNG (iter_00000300.png -> 300)."""
        try:
            return int(Path(path).stem.split("_")[1])
        except (IndexError, ValueError):
            return None

    def latest_checkpoint(self) -> Path | None:
        from engine.training.checkpoints import latest_checkpoint

        return latest_checkpoint(self.checkpoints_dir) if self.checkpoints_dir.is_dir() else None

    def has_checkpoint(self) -> bool:
        return self.checkpoints_dir.is_dir() and any(self.checkpoints_dir.glob("*.pt"))

    # ---- the per-run release key -------------------------------------------------------------
    def release_key(self) -> str:
        """A random secret of this run (made on first use, never leaves the folder): it salts the
        pseudonyms that name its cases outside the run folder (see engine.release)."""
        try:
            data = json.loads(self.release_key_path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("key"), str) and len(data["key"]) >= 32:
                return data["key"]
        except (OSError, ValueError):
            pass
        key = secrets.token_hex(32)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.release_key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            time.sleep(0.05)
            return self.release_key()
        except OSError as exc:
            raise TrainingError(
                f"{self.folder}: cannot write the run's pseudonym key ({exc}); check the folder's permissions."
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"key": key, "note": "secret of this run; keep it inside the run folder"}, fh)
        return key

    # ---- work in progress ----------------------------------------------------------------------
    def new_work_folder(self, kind: str) -> Path:
        """A new empty folder in work/ owned by this process (``kind`` names what it holds)."""
        folder = self.work_dir / f"{kind}-{os.getpid()}-{secrets.token_hex(4)}"
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        try:
            folder.mkdir(parents=True)
            (folder / _OWNER).write_text(json.dumps(owner), encoding="utf-8")
        except OSError as exc:
            raise TrainingError(
                f"{self.folder}: cannot write work in progress into the run folder ({exc}); check that the "
                "folder is not read-only and the disk is not full."
            ) from None
        return folder

    @contextmanager
    def work_folder(self, kind: str) -> Iterator[Path]:
        """``with run.work_folder("generate") as tmp:`` a new work/ folder, removed on every exit."""
        folder = self.new_work_folder(kind)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def remove_stale_work(self) -> list[Path]:
        """Remove the work/ entries whose process is gone (a killed generate or export); returns
        what was removed. Entries of live processes, and of other computers, are left alone."""
        if not self.work_dir.is_dir():
            return []
        removed = []
        host = socket.gethostname()
        for entry in sorted(self.work_dir.iterdir()):
            if _is_stale(entry, host):
                if entry.is_dir() and not entry.is_symlink():
                    _remove_elsewhere(entry)
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                if not entry.exists():
                    removed.append(entry)
        return removed


def _remove_elsewhere(entry: Path) -> None:
    """The hidden folders a killed export parked beside its destination (another file system)."""
    try:
        paths = json.loads((entry / WORK_ELSEWHERE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for p in paths if isinstance(paths, list) else []:
        path = Path(str(p))
        if path.name.startswith(".") and (".partial-" in path.name or ".old-" in path.name):
            shutil.rmtree(path, ignore_errors=True)


def _is_stale(entry: Path, host: str) -> bool:
    try:
        owner = json.loads((entry / _OWNER).read_text(encoding="utf-8"))
        pid, their_host = int(owner["pid"]), str(owner["host"])
    except (OSError, ValueError, KeyError, TypeError):
        try:
            return time.time() - entry.lstat().st_mtime > _ORPHAN_AGE_S
        except OSError:
            return False
    return their_host == host and pid != os.getpid() and not _pid_alive(pid)
