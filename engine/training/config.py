"""TrainingConfig: everything a training run needs, JSON round-trippable, validated with clear
messages. Presets: "quick" (CPU: 128x128 crops at >= 1 mm pixels, minutes) and "quality" (GPU:
256x256 crops at the data's own spacing)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from engine.configs import JsonConfig
from engine.errors import ConfigError
from engine.models.config import PRESET_NAMES, PRESET_TRAINING, PRESETS, ModelConfig, image_size_problem
from engine.training.losses import LAMBDA_FM, LAMBDA_KL, LAMBDA_L1

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class TrainingConfig(JsonConfig):
    data: Path | None = None  # dataset folder (scanned with engine.data.discover)
    run: Path | None = None  # the run folder this training writes
    preset: str = "quick"
    iterations: int | None = None  # None: the preset's
    image_size: int | None = None  # training crop side; None: the preset's (128 quick, 256 quality)
    batch_size: int | None = None
    auto_batch: bool = False  # measure memory on the device and use the largest batch that fits
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    seed: int = 0
    resume: bool = False
    resume_from: Path | None = None  # with resume: this checkpoint (default: the newest intact one)
    allow_changed_data: bool = False  # with resume: accept data files that changed since the run began
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
    spacing_mode: str = "native"  # native (the data's own spacing; see min_spacing_mm) | fit (old runs) | median
    min_spacing_mm: float | None = None  # coarsen finer data to this (at most 2x); 0: never; None: the preset's
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
    lambda_l1: float = LAMBDA_L1
    lambda_fm: float = LAMBDA_FM
    lambda_kl: float = LAMBDA_KL
    l1_pool: int | None = None  # the L1 term compares images average-pooled by this; None: the preset's
    lambda_div: float | None = None  # diversity term of the prior-style branch (0: off); None: the preset's
    lambda_mean: float | None = None  # per-label mean intensity term (0: off); None: the preset's
    lambda_rescan: float | None = None  # rescan term: draws differ by the scanner's grain (0: off); None: the preset's
    lambda_hist: float | None = None  # per-label intensity distribution term (0: off); None: the preset's
    ema_decay: float = 0.999
    arch: str | None = None  # spade_unet | pix2pix_unet; None: the preset's
    base_channels: int | None = None
    model_overrides: dict = field(default_factory=dict)  # any other ModelConfig field
    cache_dir: Path | None = None
    threads: int | None = None  # CPU threads for torch; None: cores - 1

    def __post_init__(self) -> None:
        for name in ("data", "run", "cache_dir", "resume_from"):
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
        if problem := image_size_problem(cfg.image_size):
            problems.append(problem)
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
        if cfg.spacing_mode not in ("native", "fit", "median"):
            problems.append(f"spacing_mode {cfg.spacing_mode!r}: use native, fit or median")
        if not (isinstance(cfg.min_spacing_mm, (int, float)) and 0 <= cfg.min_spacing_mm <= 20):
            problems.append(f"min_spacing_mm {cfg.min_spacing_mm!r}: use 0 (the data's own spacing) to 20 mm")
        if not (isinstance(cfg.l1_pool, int) and 1 <= cfg.l1_pool <= 16):
            problems.append(f"l1_pool {cfg.l1_pool!r}: use 1 (pixel-wise L1) to 16")
        for name in ("lambda_div", "lambda_mean", "lambda_rescan", "lambda_hist"):
            value = getattr(cfg, name)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 100):
                problems.append(f"{name} {value!r}: use 0 (off) to 100")
        if not (isinstance(cfg.seed, int) and cfg.seed >= 0):
            problems.append(f"seed {cfg.seed!r}: use a whole number >= 0")
        if problems:
            raise ConfigError("Training settings: " + "; ".join(problems))
        return cfg

