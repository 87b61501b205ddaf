"""TensorBoard event files of a training run, in RUN/tensorboard/: ``tensorboard --logdir
RUNS_FOLDER`` shows every run of a folder side by side, offline.

What is written (torch.utils.tensorboard's SummaryWriter):

- scalars under grouped tags: ``loss/generator``, ``loss/discriminator``, ``loss/adversarial``,
  ``loss/feature_matching``, ``loss/l1``, ``loss/kl``, ``loss/diversity`` (metrics.jsonl's
  ``loss_*``), ``val/ssim``, ``val/psnr``, ``val/l1`` (``val_*``), ``train/lr_generator``;
- ``preview``: the validation preview (one row per slice: label map | real | synthetic);
- the run's settings as hparams (the HParams dashboard), once, when the run starts;
- ``quality/<measure>`` when a quality report of the run is written (``log_quality``), at the
  iteration of the checkpoint it judged.

A resume from the checkpoint of iteration S opens the writer with ``purge_step = S + 1``: TensorBoard
drops whatever the interrupted session logged after S when it reads the files, so each curve goes on
from S with no duplicate or backward step. In a DDP run only rank 0 writes. The writer flushes every
FLUSH_S seconds and after every validation, so a TensorBoard watching the folder shows a live run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FLUSH_S = 5.0
TAGS = {
    "loss_g": "loss/generator",
    "loss_d": "loss/discriminator",
    "loss_adv": "loss/adversarial",
    "loss_fm": "loss/feature_matching",
    "loss_l1": "loss/l1",
    "loss_kl": "loss/kl",
    "loss_div": "loss/diversity",
    "loss_rescan": "loss/rescan",
    "loss_hist": "loss/tissue_distribution",
    "lr_g": "train/lr_generator",
}
HPARAM_METRICS = ("val/ssim", "val/psnr", "val/l1")


def tag_for(key: str) -> str | None:
    """The TensorBoard tag of a metrics.jsonl key (None for keys that are not curves)."""
    if key in TAGS:
        return TAGS[key]
    for prefix, group in (("loss_", "loss/"), ("val_", "val/")):
        if key.startswith(prefix):
            return group + key[len(prefix) :]
    return None


class TensorBoardLog:
    """One training session's writer. ``start`` is the iteration the session starts from (0 for a
    new run, S when resuming from the checkpoint of iteration S)."""

    def __init__(self, folder: Path, start: int, hparams: Mapping[str, object] | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        folder.mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(
            log_dir=str(folder), purge_step=start + 1 if start > 0 else None, flush_secs=int(FLUSH_S)
        )
        self._last_flush = time.monotonic()
        if hparams and start == 0:
            self._write_hparams(hparams)

    def scalars(self, iteration: int, record: Mapping[str, object]) -> None:
        for key, value in record.items():
            tag = tag_for(key)
            if tag is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(tag, float(value), iteration)
        if any(k.startswith("val_") for k in record) or time.monotonic() - self._last_flush > FLUSH_S:
            self.flush()

    def preview(self, iteration: int, grid: np.ndarray) -> None:
        """The preview grid (H, W, 3 uint8) as the ``preview`` image of ``iteration``."""
        self.writer.add_image("preview", grid, iteration, dataformats="HWC")
        self.flush()

    def flush(self) -> None:
        self.writer.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        self.writer.close()

    def _write_hparams(self, hparams: Mapping[str, object]) -> None:
        """The settings in this run's own event file (SummaryWriter.add_hparams would make a new run)."""
        from torch.utils.tensorboard.summary import hparams as hparams_summaries

        values = {k: v for k, v in hparams.items() if isinstance(v, (bool, int, float, str))}
        for summary in hparams_summaries(values, {m: 0.0 for m in HPARAM_METRICS}):
            self.writer.file_writer.add_summary(summary)
        self.flush()


def training_hparams(
    config, model_cfg, precision: str, channels_last: bool, device: str, world_size: int
) -> dict:
    """The settings a run is compared by: training and model settings, no paths."""
    keep = (
        "preset", "iterations", "image_size", "batch_size", "seed", "lr_g", "lr_d", "beta1", "beta2",
        "lr_decay_start", "gan_mode", "lambda_l1", "lambda_fm", "lambda_kl", "lambda_div", "lambda_rescan", "lambda_hist", "l1_pool",
        "ema_decay", "context_slices", "class_balance", "spacing_mode", "compile", "arch", "base_channels",
    )  # fmt: skip
    out: dict[str, object] = {k: getattr(config, k) for k in keep if getattr(config, k, None) is not None}
    out.update(
        precision=precision,
        channels_last=bool(channels_last),
        device=device,
        world_size=int(world_size),
        num_classes=int(getattr(model_cfg, "num_classes", 0)),
    )
    return out


def log_quality(folder: Path, iteration: int, measures: Mapping[str, float]) -> None:
    """A quality report's headline measures as ``quality/<name>`` scalars of the run at ``iteration``
    (a writer of its own: the report may run while, or long after, the training)."""
    from torch.utils.tensorboard import SummaryWriter

    values = {k: float(v) for k, v in measures.items() if isinstance(v, (int, float)) and np.isfinite(v)}
    if not values:
        return
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for name, value in values.items():
            writer.add_scalar(f"quality/{name}", value, int(iteration))
    finally:
        writer.close()


def for_training(setup, start: int, dist) -> TensorBoardLog | None:
    """The writer of a training session (rank 0 only; None on the other ranks). A failure to open
    it is logged and training goes on without TensorBoard files."""
    if not dist.is_main:
        return None
    settings = training_hparams(
        setup.config,
        setup.model_cfg,
        setup.precision,
        setup.channels_last,
        setup.device.type,
        dist.world_size,
    )
    try:
        return TensorBoardLog(setup.run.tensorboard_dir, start, settings)
    except (OSError, ImportError) as exc:
        log.warning("TensorBoard files are not written for %s: %s", setup.run.folder, exc)
        return None


QUALITY_SECTIONS = ("fidelity", "diversity", "memorization", "tstr", "realism", "utility_study")


def log_quality_report(folder: Path, report: Mapping[str, object]) -> None:
    """A quality report's numbers (one level into each section, e.g. ``quality/fidelity_ssim``) as
    scalars at the iteration of the checkpoint it judged. Never fails the report: a problem is logged."""
    iteration = report.get("checkpoint_iteration")
    if not isinstance(iteration, int):
        return
    measures = {}
    for section in QUALITY_SECTIONS:
        values = report.get(section)
        if isinstance(values, Mapping):
            for key, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    measures[f"{section}_{key}"] = value
    try:
        log_quality(folder, iteration, measures)
    except OSError as exc:
        log.warning("Quality measures not written to TensorBoard in %s: %s", folder, exc)
