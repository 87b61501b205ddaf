"""The run folder of DESIGN.md: config.json, label_table.json, normalization.json,
data_manifest.json, metrics.jsonl, samples/, checkpoints/."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.data.labels import LabelTable
from engine.data.normalization import IntensityNormalization
from engine.data.split import DataSplit
from engine.errors import TrainingError


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class TrainingRun:
    folder: Path

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)

    # paths
    @property
    def config_path(self) -> Path:
        return self.folder / "config.json"

    @property
    def label_table_path(self) -> Path:
        return self.folder / "label_table.json"

    @property
    def normalization_path(self) -> Path:
        return self.folder / "normalization.json"

    @property
    def manifest_path(self) -> Path:
        return self.folder / "data_manifest.json"

    @property
    def metrics_path(self) -> Path:
        return self.folder / "metrics.jsonl"

    @property
    def samples_dir(self) -> Path:
        return self.folder / "samples"

    @property
    def checkpoints_dir(self) -> Path:
        return self.folder / "checkpoints"

    @property
    def control_path(self) -> Path:
        """A small file a trainer in another process polls for stop/pause ("stop" / "pause" / "run")."""
        return self.folder / "control"

    @property
    def status_path(self) -> Path:
        return self.folder / "status.json"

    def exists(self) -> bool:
        return self.config_path.is_file()

    def create(self) -> None:
        for d in (self.folder, self.samples_dir, self.checkpoints_dir):
            d.mkdir(parents=True, exist_ok=True)

    # writing
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
        tmp = self.metrics_path.with_name(".metrics.jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
        os.replace(tmp, self.metrics_path)
        return dropped

    # reading
    def read_config(self) -> dict:
        if not self.config_path.is_file():
            raise TrainingError(f"{self.folder}: not a SynthVol run folder (no config.json).")
        return json.loads(self.config_path.read_text(encoding="utf-8"))

    def read_label_table(self) -> LabelTable:
        return LabelTable.load(self.label_table_path)

    def read_normalization(self) -> IntensityNormalization:
        return IntensityNormalization.load(self.normalization_path)

    def read_manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def read_split(self) -> DataSplit:
        return DataSplit.from_json(self.read_manifest()["split"])

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

    def sample_images(self) -> list[Path]:
        return sorted(self.samples_dir.glob("*.png")) if self.samples_dir.is_dir() else []
