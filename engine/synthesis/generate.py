"""generate_volumes(config, on_event, control): N synthetic labeled volumes into the run's gallery."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from engine import __version__
from engine.configs import JsonConfig
from engine.errors import Cancelled, ConfigError, ExportError
from engine.events import Control, EventCallback, Finished, Log, TaskState, ignore_events
from engine.synthesis.augmentation import AUGMENTED_REAL
from engine.synthesis.deform import DeformParams
from engine.synthesis.gallery import Gallery, GalleryItem
from engine.synthesis.label_sources import (
    SOURCES,
    folder_label_maps,
    generate_label_maps,
    training_label_maps,
)
from engine.synthesis.output_checks import check_synthetic_volume
from engine.synthesis.rebalance import RebalanceParams
from engine.synthesis.synthesizer import Synthesizer
from engine.training.checkpoints import file_error_text
from engine.training.run_lock import RunLock
from engine.training.run_record import check_synthesis_grid

log = logging.getLogger(__name__)
VOLUME_UNITS = 1000  # progress steps per volume
SLICE_SHARE = 0.95  # of a volume's steps, the share its slices fill (the rest: saving it)


@dataclass
class GenerateConfig(JsonConfig):
    run: Path
    count: int = 4
    label_source: str = "train"  # train | augment | rebalance | folder | augmented-real
    label_folder: Path | None = None
    seed: int = 0
    deform_strength: float = 1.0
    rare_label: int | None = None
    rare_copies: int = 2
    checkpoint: Path | None = None
    device: str = "auto"
    batch_size: int = 8
    gallery: Path | None = None  # default RUN/gallery
    accept_label_differences: bool = False  # label folder: use maps whose label names differ from the run's

    def validate(self) -> GenerateConfig:
        problems = []
        if not (isinstance(self.count, int) and 1 <= self.count <= 10_000):
            problems.append(f"count {self.count!r}: generate 1 to 10000 volumes")
        if self.label_source not in SOURCES:
            problems.append(f"label source {self.label_source!r}: use one of {', '.join(SOURCES)}")
        if self.label_source == "folder" and not self.label_folder:
            problems.append("label source folder: choose the folder of label maps")
        if self.label_source == "rebalance" and self.rare_label is None:
            problems.append("label source rebalance: choose the rare label to add more of")
        if not 0 <= self.deform_strength <= 3:
            problems.append(f"deformation strength {self.deform_strength}: use 0 (none) to 3")
        if not 1 <= self.rare_copies <= 20:
            problems.append(f"rare copies {self.rare_copies}: use 1 to 20 regions per map")
        if self.batch_size < 1:
            problems.append("batch size must be 1 or more")
        if problems:
            raise ConfigError("Generation settings: " + "; ".join(problems))
        return self



@dataclass
class GenerateResult:
    items: list[GalleryItem] = field(default_factory=list)
    gallery: Path | None = None
    seconds: float = 0.0
    stopped: bool = False


def generate_volumes(config: GenerateConfig, on_event: EventCallback = ignore_events,
                     control: Control | None = None, synthesizer: Synthesizer | None = None) -> GenerateResult:
    cfg = config.validate()
    with RunLock(cfg.run, "generating") as lock:  # one job per run folder (the CLI's and the window's alike)
        for text in lock.notes:
            on_event(Log("warning", text))
        try:
            return _generate_locked(cfg, on_event, control, synthesizer)
        except OSError as exc:  # the gallery cannot be written (full disk, read-only folder)
            raise ExportError(f"Generation stopped: {file_error_text(exc, cfg.run)}") from None


def _generate_locked(cfg: GenerateConfig, on_event: EventCallback, control: Control | None,
                     synthesizer: Synthesizer | None) -> GenerateResult:
    import time

    # progress in thousandths of a volume, the rate averaged over the work so far: a volume's label
    # map (read or deformed), then its slices, then its file; ETA from whole volumes
    state = TaskState(on_event, control, cfg.count * VOLUME_UNITS, mean_rate=True)
    t0 = time.perf_counter()
    state.progress(0, "Loading the generator")
    synth = synthesizer or Synthesizer(cfg.run, cfg.checkpoint, cfg.device)
    where = str(synth.device)
    if getattr(synth.device, "type", None) == "cpu":  # what it really runs on: cores, compute threads
        import torch

        from engine.training.devices import describe_cpu

        where = f"the CPU: {describe_cpu(torch.get_num_threads(), why=True)}"
    state.log("info", f"Generator: {synth.checkpoint.name} (iteration {synth.checkpoint_iteration}) on {where}")
    for text in getattr(synth, "checkpoint_notes", []):  # damaged checkpoints passed over
        state.log("warning", text)
    gallery = Gallery(cfg.gallery or synth.run.gallery_dir)
    result = GenerateResult(gallery=gallery.folder)
    try:
        state.progress(0, "Reading the label maps")
        state.check()
        if cfg.label_source == "folder":
            maps = folder_label_maps(cfg.label_folder, synth.label_table, cfg.accept_label_differences, on_event)
        else:
            maps = training_label_maps(synth.run, control=state.control)
        state.check()
        deform = DeformParams(strength=cfg.deform_strength)
        rebalance = RebalanceParams(int(cfg.rare_label), cfg.rare_copies) if cfg.rare_label is not None else None
        source_iter = iter(generate_label_maps(cfg.label_source, maps, cfg.count, cfg.seed, deform, rebalance, control))
        preparing = {"augment": "deforming its label map", "rebalance": "placing the rare label"}.get(
            cfg.label_source, "preparing its label map")
        for i in range(cfg.count):
            start = i * VOLUME_UNITS
            volume = f"Volume {i + 1} of {cfg.count}"
            state.progress(start, f"{volume}: {preparing}")
            state.check()
            item = next(source_iter, None)  # a deformation checks the stop flag between its slabs
            if item is None:
                break
            seed = int(np.random.default_rng([cfg.seed, i, 7]).integers(0, 2**31 - 1))

            def on_slice(done: int, total: int, start=start, volume=volume) -> None:
                state.progress(start + int(SLICE_SHARE * VOLUME_UNITS * done / max(total, 1)),
                               f"{volume}: slice {done} of {total}")
                state.check()  # pause and stop within a volume, between batches of slices

            augmented = item.extras.get("image")  # augmented-real: the image comes from augmentation
            if augmented is None:
                check_synthesis_grid(item.label, synth.spacing, f"label map {i + 1}")  # before allocating it
            image = augmented if augmented is not None else synth.synthesize(item.label, seed, cfg.batch_size, None, on_slice)
            if augmented is None:
                check_synthetic_volume(image, synth.checkpoint.name)  # NaN or constant: refused, never exported
            state.progress(start + int(SLICE_SHARE * VOLUME_UNITS), f"{volume}: saving it")
            state.check()  # a stop before the file is written: this volume is not kept
            label = sitk.Cast(item.label, sitk.sitkUInt16 if max(synth.label_table.values) > 255 else sitk.sitkUInt8)
            meta = {
                "modality": synth.modality,
                "label_source": item.source,
                "seed": seed,
                "source_case": item.source_case,
                "source_image": str(item.source_image) if item.source_image else None,
                "run": str(synth.run.folder.resolve()),
                "image_from": AUGMENTED_REAL if augmented is not None else "generator",
                "checkpoint": None if augmented is not None else synth.checkpoint.name,
                "checkpoint_iteration": None if augmented is not None else synth.checkpoint_iteration,
                "checkpoint_sha256": None if augmented is not None else synth.checkpoint_sha256,
                "synthvol_version": __version__,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            }
            saved = gallery.add(image, label, meta, state.control)  # a stop while writing abandons the file
            result.items.append(saved)
            state.progress(start + VOLUME_UNITS, f"Generated {saved.id} ({i + 1} of {cfg.count})")
    except Cancelled:
        result.stopped = True
        state.log("info", f"Stopped after {len(result.items)} of {cfg.count} volumes.")
    result.seconds = time.perf_counter() - t0
    on_event(Finished(result))
    return result
