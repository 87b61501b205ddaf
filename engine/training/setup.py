"""Everything a training run needs before its first step: the run folder, the data (scanned,
cached, split), the datasets and sampler, the device and precision."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine import __version__
from engine.data.cache import PreparedData, PreprocessParams, native_spacing, prepare_cases
from engine.data.label_coverage import labelled_rows
from engine.data.labels import LabelTable
from engine.data.scan import discover
from engine.data.slices import (
    SliceDataset,
    SliceSampler,
    padded_size,
    sampling_weights,
    slice_table,
    stack_rows,
)
from engine.data.split import DataSplit, make_split, training_slices, validation_slices
from engine.errors import TrainingError
from engine.events import Control, EventCallback, Log
from engine.models.config import ModelConfig
from engine.training.config import TrainingConfig
from engine.training.devices import cpu_threads, describe_cpu, resolve_device, resolve_precision
from engine.training.distributed import DistContext
from engine.training.resume_check import check_resumed_data, plan_resume
from engine.training.run_folder import TrainingRun

log = logging.getLogger(__name__)
@dataclass
class TrainingSetup:
    config: TrainingConfig
    run: TrainingRun
    prepared: PreparedData
    split: DataSplit
    model_cfg: ModelConfig
    train_ds: SliceDataset
    sampler: SliceSampler
    val_ds: SliceDataset
    device: torch.device
    precision: str
    channels_last: bool


def prepare_training(
    config: TrainingConfig, on_event: EventCallback, control: Control, dist: DistContext
) -> TrainingSetup:
    plan = plan_resume(config)  # a resume: what may change is applied, the rest refused (resume_check)
    cfg = plan.config.validate()
    run = TrainingRun(cfg.run)
    device = resolve_device(dist.device(cfg.device))
    precision = resolve_precision(cfg.precision, device)
    channels_last = cfg.channels_last if cfg.channels_last is not None else device.type == "cuda"

    if cfg.data is None or not Path(cfg.data).exists():
        raise TrainingError(f"Dataset folder {cfg.data} not found. Choose the folder the run was trained on.")
    quiet = (lambda e: None) if not dist.is_main else on_event
    for text in plan.changed:
        quiet(Log("info", f"Resuming with a changed setting: {text}"))
    scan = discover(cfg.data, modality=cfg.modality, on_event=quiet, control=control)
    if not scan.usable_cases:
        bad = "; ".join(c.error for c in scan.error_cases[:3] if c.error)
        raise TrainingError(
            f"{cfg.data}: no usable labeled case to train on ({scan.summary()}). {bad}".strip()
        )
    table = run.read_label_table() if (cfg.resume and run.label_table_path.is_file()) else scan.label_table
    params = preprocess_params(cfg)
    prepared = prepare_cases(scan.usable_cases, table, params, cfg.cache_dir, cfg.modality, quiet, control)
    spacing_note = describe_spacing(cfg, native_spacing(scan.usable_cases), prepared.spacing)
    quiet(Log("info", spacing_note))
    data_changes = []
    if cfg.resume:  # the files must be the ones the run recorded, unless changed data is allowed
        data_changes = check_resumed_data(run, {v.case_id: v.digest for v in prepared.volumes}, cfg.allow_changed_data)
        if data_changes and data_changes[-1]["when"] and cfg.allow_changed_data:
            quiet(Log("warning", f"Resuming on changed data (allowed): {len(data_changes[-1]['cases'])} case(s) differ "
                                 "from the files the run began with; recorded in data_manifest.json."))
    if cfg.resume and run.normalization_path.is_file():
        saved_norm = run.read_normalization()
        prepared.normalization.cases.update(saved_norm.cases)
    model_cfg = cfg.model_config(table.num_classes)
    ids = [v.case_id for v in prepared.volumes]
    shapes = {v.case_id: v.shape[0] for v in prepared.volumes}
    if cfg.resume and run.manifest_path.is_file():
        split = run.read_split()
        missing = [c for c in split.train_cases + split.val_cases if c not in shapes]
        if missing:
            raise TrainingError(
                f"The run was trained on case(s) {', '.join(missing[:5])} that the dataset {cfg.data} no "
                "longer holds; resume with the original dataset."
            )
    else:
        fg = {v.case_id: v.presence[:, 1:].any(axis=1) for v in prepared.volumes}
        split = make_split(ids, fg, cfg.val_fraction, cfg.seed, cfg.context_slices + model_cfg.d_slices - 1)
    if split.note:
        quiet(Log("info", f"Validation split: {split.note}"))

    vols = prepared.volumes
    # a training stack z..z+S-1 and its label context must stay clear of the held-out block
    margin = cfg.context_slices + model_cfg.d_slices - 1
    rows = labelled_rows(vols, slice_table(vols, training_slices(split, shapes, margin)), cfg.context_slices)
    train_rows = stack_rows(rows, model_cfg.d_slices)  # (slices a label does not cover are left out)
    thin = [int(v) for v, _ in rows if vols[int(v)].shape[0] < model_cfg.d_slices] if len(rows) else []
    if thin:  # 2-D images (one-slice volumes): their stack repeats the slice, as the label context does
        train_rows = np.concatenate([train_rows, rows[np.isin(rows[:, 0], thin)]])
    val_rows = slice_table(vols, validation_slices(split, shapes))
    val_rows = val_rows[[bool(vols[v].presence[z, 1:].any()) for v, z in val_rows]] if len(val_rows) else val_rows
    if len(train_rows) == 0 or len(val_rows) == 0:
        raise TrainingError("Not enough labelled slices to train and validate; add cases or labels.")
    train_ds = SliceDataset(vols, train_rows, cfg.image_size, cfg.context_slices, table.num_classes, augment=True,
                            stack=model_cfg.d_slices)
    # validation on whole slices (the generator is fully convolutional), padded to one size
    whole = padded_size([vols[v] for v in np.unique(val_rows[:, 0])], model_cfg.size_multiple)
    val_ds = SliceDataset(vols, val_rows, cfg.image_size, cfg.context_slices, table.num_classes, augment=False,
                          whole=whole)
    weights = sampling_weights(vols, train_rows, cfg.class_balance)
    sampler = SliceSampler(weights, cfg.seed)

    if dist.is_main:
        run.create()
        run.write_label_table(table)
        run.write_normalization(prepared.normalization)
        record = _config_record(cfg, model_cfg, device, precision, channels_last, dist, prepared)
        record.update(native_spacing_mm=native_spacing(scan.usable_cases), spacing_note=spacing_note)
        run.write_config(record)
        manifest = _manifest_record(cfg, scan, prepared, split, train_rows, val_rows)
        run.write_manifest({**manifest, "data_changes": data_changes} if data_changes else manifest)
    dist.barrier()
    return TrainingSetup(cfg, run, prepared, split, model_cfg, train_ds, sampler, val_ds, device, precision,
                         channels_last)


def preprocess_params(cfg: TrainingConfig) -> PreprocessParams:
    """The cache's preprocessing for a (resolved) training config: its spacing policy."""
    cfg = cfg.resolved()
    return PreprocessParams(spacing_mode=cfg.spacing_mode, image_size=cfg.image_size,
                            min_spacing_mm=cfg.min_spacing_mm or None)


def describe_spacing(cfg: TrainingConfig, native: float, used: float) -> str:
    """The log line (and config.json's spacing_note) that says which pixel size training uses."""
    if abs(used - native) <= 1e-3 * native:
        return f"Training at the data's own in-plane spacing, {used:g} mm pixels ({cfg.image_size}-pixel crops)."
    why = (f"the {cfg.preset} preset trains at pixels of at least {cfg.min_spacing_mm:g} mm, by at most 2x"
           if cfg.spacing_mode == "native" else f"spacing mode {cfg.spacing_mode!r}")
    return (f"Training at {used:g} mm pixels, {used / native:.2f}x coarser than the data's own {native:g} mm "
            f"({why}); generated volumes are resampled back onto each label map's own grid.")


def _config_record(cfg, model_cfg, device, precision, channels_last, dist, prepared) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU"
    if device.type == "cpu":  # what the trainer uses: the CPU's name, its cores, the compute threads
        name = describe_cpu(cpu_threads(cfg.threads))
    return {
        "training": cfg.to_json(),
        "model": dataclasses.asdict(model_cfg),
        "model_signature": model_cfg.signature(),
        "device": str(device),
        "device_name": name,
        "precision": precision,
        "channels_last": channels_last,
        "world_size": dist.world_size,
        "modality": prepared.normalization.modality,
        "spacing_mm": prepared.spacing,
        "synthvol_version": __version__,
        "torch_version": torch.__version__,
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _manifest_record(cfg, scan, prepared, split, train_rows, val_rows) -> dict:
    return {
        "dataset": str(Path(cfg.data).resolve()),
        "layout": scan.layout,
        "spacing_mm": prepared.spacing,
        "cases": [
            {
                "id": v.case_id,
                "image": str(scan.case(v.case_id).image),
                "label": str(scan.case(v.case_id).label),
                "sha256": v.digest,
                "shape_zyx": list(v.shape),
                "normalization": list(v.norm),
            }
            for v in prepared.volumes
        ],
        "split": split.to_json(),
        "training_slices": int(len(train_rows)),
        "validation_slices": int(len(val_rows)),
        "skipped": prepared.notes,
    }


def label_colors_by_class(table: LabelTable) -> list[tuple[int, int, int]]:
    return [table.entries[v].color for v in table.values]


def lr_factor(iteration: int, total: int, decay_start: float) -> float:
    """1 until decay_start * total, then linearly down to 0 at total (pix2pix's schedule)."""
    start = int(decay_start * total)
    if iteration < start or total <= start:
        return 1.0
    return float(max(0.0, 1.0 - (iteration - start) / max(1, total - start)))


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
