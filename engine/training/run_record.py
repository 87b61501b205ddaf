"""A run folder's config.json, checked before anything is sized by it.

A run folder may come from another computer, an older version or a hand edit. Generation sizes
its grids by ``spacing_mm`` and builds the model from ``model``: a spacing of 0.002 mm asks for a
22 GiB volume, "abc" or 0 for nothing sensible, a missing ``model`` for a KeyError. Every value is
checked here, with a message that names the file and the value.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import SimpleITK as sitk

from engine.errors import ConfigError, SynthVolError, TrainingError
from engine.models.config import ModelConfig
from engine.training.run_folder import TrainingRun

SPACING_RANGE_MM = (0.01, 50.0)  # in-plane pixel sizes of CT and MR (micro-CT to thick MR)
MAX_GRID_VOXELS = 1 << 29  # one generated volume on the training grid: 512 Mi voxels (2 GiB float32)


class RunRecordError(TrainingError):
    """config.json of a run folder holds a value SynthVol cannot use."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def check_run_record(record: Any, where: str) -> dict:
    """The config.json contents, or RunRecordError naming the first bad value."""
    if not isinstance(record, dict):
        raise RunRecordError(f"{where}: expected a JSON object of the run's settings.")
    model = record.get("model")
    if not isinstance(model, dict):
        raise RunRecordError(
            f"{where}: no 'model' settings (the generator's architecture): the run folder is incomplete or was "
            "edited. Restore config.json from a backup, or train the run again."
        )
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(model) - known)
    if unknown:
        raise RunRecordError(
            f"{where}: unknown model setting(s) {', '.join(unknown[:5])} (made by another version?)."
        )
    try:
        ModelConfig(**model).validate()
    except (ConfigError, TypeError, ValueError) as exc:
        raise RunRecordError(f"{where}: the model settings are not usable ({exc}).") from None
    spacing = _number(record.get("spacing_mm"))
    lo, hi = SPACING_RANGE_MM
    if spacing is None or not lo <= spacing <= hi:
        raise RunRecordError(
            f"{where}: spacing_mm is {record.get('spacing_mm')!r}; the run's pixel size must be a number from "
            f"{lo:g} to {hi:g} mm. Restore config.json (training writes it), or train the run again."
        )
    training = record.get("training")
    if training is not None and not isinstance(training, dict):
        raise RunRecordError(f"{where}: 'training' is not a set of settings.")
    modality = record.get("modality")
    if modality is not None and modality not in ("CT", "MR"):
        raise RunRecordError(f"{where}: modality {modality!r}; expected CT or MR.")
    return record


def read_run_record(run: TrainingRun) -> dict:
    """config.json of ``run``, read and checked (and its model's classes against label_table.json)."""
    try:
        record = run.read_config()
    except SynthVolError:
        raise
    except (OSError, ValueError) as exc:
        raise RunRecordError(f"{run.config_path}: cannot be read ({exc}).") from None
    check_run_record(record, str(run.config_path))
    if run.label_table_path.is_file():
        table = run.read_label_table()
        classes = record["model"].get("num_classes")
        if classes is not None and classes != table.num_classes:
            raise RunRecordError(
                f"{run.config_path}: the model draws {classes} label classes but {run.label_table_path.name} lists "
                f"{table.num_classes}; the run folder's files do not belong together."
            )
    return record


def check_synthesis_grid(label: sitk.Image, spacing_mm: float, source: str = "the label map") -> None:
    """Refuse a label map whose grid at the run's spacing would not fit in memory."""
    size, spacing = label.GetSize(), label.GetSpacing()
    voxels = float(size[2] if len(size) > 2 else 1)
    for i in range(2):
        voxels *= max(1.0, size[i] * spacing[i] / spacing_mm)
    if voxels > MAX_GRID_VOXELS:
        gib = voxels * 4 / (1 << 30)
        raise RunRecordError(
            f"{source} ({'x'.join(map(str, size))} voxels of {', '.join(f'{s:g}' for s in spacing[:2])} mm) at the "
            f"run's {spacing_mm:g} mm pixels would be a {gib:.0f} GiB volume; nothing was generated. Check the run's "
            "spacing_mm (config.json) and the label map's spacing."
        )
