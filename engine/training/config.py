"""TrainingConfig: everything a training run needs, JSON round-trippable, validated with clear
messages. Presets: "quick" (CPU, 128x128, minutes) and "quality" (GPU, 256x256)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.configs import config_from_dict, config_to_dict
from engine.errors import ConfigError
from engine.models.config import PRESETS, ModelConfig

PRESET_NAMES = ("quick", "quality")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# Training settings per preset (the architecture lives in engine.models.config.PRESETS).
PRESET_TRAINING: dict[str, dict[str, Any]] = {
    "quick": {"image_size": 128, "batch_size": 4, "iterations": 1000, "lr_g": 4e-4, "lr_d": 4e-4},
    "quality": {"image_size": 256, "batch_size": 16, "iterations": 50_000, "lr_g": 1e-4, "lr_d": 4e-4},
}


@dataclass
class TrainingConfig:
    data: Path | None = None  # dataset folder (scanned with engine.data.discover)
    run: Path | None = None  # the run folder this training writes
    preset: str = "quick"
    iterations: int | None = None  # None: the preset's
    image_size: int | None = None  # None: the preset's (128 quick, 256 quality)
    batch_size: int | None = None
    auto_batch: bool = False  # measure memory on the device and use the largest batch that fits
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    seed: int = 0
    resume: bool = False
    checkpoint_every: int = 250
    keep_checkpoints: int = 3
    log_every: int = 10
    val_every: int = 100
    preview_every: int = 100
    val_slices: int = 16
    context_slices: int = 1
    class_balance: float = 0.5  # 0 = slices drawn uniformly; 1 = every label class drawn equally often
    val_fraction: float = 0.2
    modality: str | None = None  # CT | MR; None = from the data
    spacing_mode: str = "fit"
    precision: str = "auto"  # auto: bf16 (or fp16 + scaler) on CUDA, fp32 elsewhere
    channels_last: bool | None = None  # None: on for CUDA
    compile: bool = False
    num_workers: int = 0
    lr_g: float | None = None
    lr_d: float | None = None
    beta1: float = 0.0
    beta2: float = 0.99
    lr_decay_start: float = 0.5  # fraction of the run after which the learning rates fall linearly to 0
    gan_mode: str = "hinge"
    lambda_l1: float = 10.0
    lambda_fm: float = 10.0
    lambda_kl: float = 0.05
    ema_decay: float = 0.999
    arch: str | None = None  # spade_unet | pix2pix_unet; None: the preset's
    base_channels: int | None = None
    model_overrides: dict = field(default_factory=dict)  # any other ModelConfig field
    cache_dir: Path | None = None
    threads: int | None = None  # CPU threads for torch; None: cores - 1

    def __post_init__(self) -> None:
        for name in ("data", "run", "cache_dir"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, Path(value))

    # ---- resolved values ---------------------------------------------------------------------
    def resolved(self) -> TrainingConfig:
        """A copy with the preset's values filled in where left unset."""
        if self.preset not in PRESET_NAMES:
            raise ConfigError(f"preset {self.preset!r} is unknown: use one of {', '.join(PRESET_NAMES)}")
        defaults = PRESET_TRAINING[self.preset]
        changes = {k: v for k, v in defaults.items() if getattr(self, k) is None}
        if self.arch is None:
            changes["arch"] = PRESETS[self.preset].arch
        if self.base_channels is None:
            changes["base_channels"] = PRESETS[self.preset].base_channels
        return dataclasses.replace(self, **changes)

    def model_config(self, num_classes: int) -> ModelConfig:
        cfg = self.resolved()
        base = PRESETS[cfg.preset]
        known = {f.name for f in dataclasses.fields(ModelConfig)}
        unknown = sorted(set(cfg.model_overrides) - known)
        if unknown:
            raise ConfigError(f"model_overrides: unknown setting(s) {', '.join(unknown)}")
        values = {
            **cfg.model_overrides,
            "arch": cfg.arch,
            "base_channels": cfg.base_channels,
            "num_classes": num_classes,
            "context_slices": cfg.context_slices,
            "image_size": cfg.image_size,
        }
        if values["base_channels"] > base.max_channels and "max_channels" not in cfg.model_overrides:
            values["max_channels"] = values["base_channels"] * 8
        return dataclasses.replace(base, **values).validate()

    def validate(self) -> TrainingConfig:
        """Raise ConfigError naming every bad setting; return the resolved config."""
        cfg = self.resolved()
        problems = []
        if cfg.data is None and not cfg.resume:
            problems.append("data: choose the dataset folder to train on")
        if cfg.run is None:
            problems.append("run: choose the folder the run is written to")
        if not (isinstance(cfg.iterations, int) and cfg.iterations >= 1):
            problems.append(f"iterations must be 1 or more, got {cfg.iterations!r}")
        if not (64 <= cfg.image_size <= 512 and cfg.image_size % 16 == 0):
            problems.append(f"image size {cfg.image_size}: use a multiple of 16 from 64 to 512 (128 on a CPU, 256 on a GPU)")
        if not (1 <= cfg.batch_size <= 1024):
            problems.append(f"batch size {cfg.batch_size}: use 1 to 1024")
        if cfg.precision not in PRECISIONS:
            problems.append(f"precision {cfg.precision!r}: use one of {', '.join(PRECISIONS)}")
        if not 0.0 <= cfg.class_balance <= 1.0:
            problems.append(f"class balance {cfg.class_balance}: use a value from 0 (off) to 1 (every label equally often)")
        if not 0.0 < cfg.val_fraction < 1.0:
            problems.append(f"validation fraction {cfg.val_fraction}: use a value between 0 and 1, e.g. 0.2")
        if not 0 <= cfg.context_slices <= 8:
            problems.append(f"context slices {cfg.context_slices}: use 0 to 8 neighbours on each side")
        for name in ("checkpoint_every", "log_every", "val_every", "preview_every", "keep_checkpoints"):
            if getattr(cfg, name) < 1:
                problems.append(f"{name.replace('_', ' ')} must be 1 or more")
        for name in ("lr_g", "lr_d"):
            if not (0 < getattr(cfg, name) < 1):
                problems.append(f"{name}: learning rate {getattr(cfg, name)} out of range (try 1e-4 to 5e-4)")
        if cfg.gan_mode not in ("hinge", "lsgan"):
            problems.append(f"gan_mode {cfg.gan_mode!r}: use hinge or lsgan")
        if cfg.modality is not None and cfg.modality.upper() not in ("CT", "MR"):
            problems.append(f"modality {cfg.modality!r}: use CT or MR (or leave empty to read it from the data)")
        if not 0.0 <= cfg.ema_decay < 1.0:
            problems.append(f"ema_decay {cfg.ema_decay}: use a value in [0, 1), e.g. 0.999")
        if not (isinstance(cfg.seed, int) and cfg.seed >= 0):
            problems.append(f"seed {cfg.seed!r}: use a whole number >= 0")
        if problems:
            raise ConfigError("Training settings: " + "; ".join(problems))
        return cfg

    def to_json(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_json(cls, data: dict) -> TrainingConfig:
        return config_from_dict(cls, data)


def preset_config(name: str, **overrides: Any) -> TrainingConfig:
    """A TrainingConfig for a preset with the preset's values filled in."""
    return dataclasses.replace(TrainingConfig(preset=name), **overrides).resolved()
