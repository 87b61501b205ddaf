"""ModelConfig: the architecture of a SynthVol generator/discriminator pair, presets, compatibility.

The generator input is a 2.5-D label context: the one-hot label of the centre slice plus
``context_slices`` neighbour slices on each side, so ``in_channels = num_classes * (2k + 1)``
(layout in :mod:`engine.models.context`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from engine.configs import JsonConfig
from engine.errors import ConfigError

ARCHS = ("spade_unet", "pix2pix_unet")
NORMS = ("pixel", "instance", "batch")
MIN_IMAGE_SIZE = 64
MAX_IMAGE_SIZE = 512
MAX_CONTEXT_SLICES = 8
MAX_D_LAYERS = 5
MAX_D_SCALES = 4
MAX_D_SLICES = 4
# Bump when a change to the model code renames or reshapes weights for the same settings, so
# describe_incompatibility reports old checkpoints instead of load_state_dict failing obscurely.
LAYOUT_VERSION = 3
LAYOUT_CHANGES = {  # what each version changed (said when an older checkpoint is refused)
    3: "per-pixel norm, noise injection, a discriminator over consecutive slices, native-resolution crops "
    "and the full CT range",
}


def image_size_problem(size: Any, name: str = "image size") -> str | None:
    """The one image-size rule (training crops and the model alike): a multiple of 16 from
    MIN_IMAGE_SIZE to MAX_IMAGE_SIZE. None when ``size`` keeps it, else the message."""
    if isinstance(size, int) and not isinstance(size, bool) and MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE and size % 16 == 0:
        return None
    return (
        f"{name} {size} is not supported: use a multiple of 16 between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE} "
        "(e.g. 128 on a CPU, 256 on a GPU)"
    )


def generator_depth(image_size: int) -> int:
    """Number of 2x down-samplings of the U-Net for a square image of ``image_size``.

    Halves the side while it is above 8, even, and its half is at least 4: powers of two end at
    8x8 (64 -> 3 levels, 128 -> 4, 256 -> 5, 512 -> 6); other multiples of 16 end at their odd
    factor or at 4..8 (80 -> 5x5, 96 -> 6x6, 176 -> 11x11). Multiples of 16 always get >= 3 levels.
    """
    side, depth = int(image_size), 0
    while side > 8 and side % 2 == 0 and side // 2 >= 4:
        side //= 2
        depth += 1
    return depth


@dataclass(frozen=True)
class ModelConfig(JsonConfig):
    """Architecture settings. Frozen: derive variants with ``dataclasses.replace``.

    ``image_size`` is the side of the square training crops (taken at the data's own spacing);
    the generators are fully convolutional and make whole slices of any size that is a multiple
    of ``size_multiple``.
    ``spectral_norm`` applies to the discriminator (with it, the discriminator has no norm
    layers; without it, param-free instance norm). ``norm`` is the parameter-free normalisation of
    the generator ("pixel": per pixel over the channels, the same on a crop and on a whole slice;
    "instance" or "batch"; SPADE modulates it in the spade_unet decoder). ``noise``: per-pixel
    noise injection in the spade_unet decoder. ``d_slices``: consecutive slices the
    discriminator sees together (1: each slice alone).
    ``dropout`` is only used by the pix2pix_unet decoder (pix2pix used 0.5 as its noise source).
    """

    arch: Literal["spade_unet", "pix2pix_unet"] = "spade_unet"
    num_classes: int = 2
    context_slices: int = 1
    image_size: int = 128
    base_channels: int = 32
    max_channels: int = 256
    spade_hidden: int = 32
    spade_kernel: int = 1
    style_dim: int = 16
    d_base_channels: int = 32
    d_layers: int = 3
    d_scales: int = 2
    spectral_norm: bool = True
    norm: Literal["pixel", "instance", "batch"] = "pixel"
    dropout: float = 0.0
    noise: bool = True
    d_slices: int = 1

    # ---- derived -----------------------------------------------------------------------------
    @property
    def slices(self) -> int:
        """Slices in the label context: the centre one and ``context_slices`` on each side."""
        return 2 * self.context_slices + 1

    @property
    def in_channels(self) -> int:
        return self.num_classes * self.slices

    @property
    def depth(self) -> int:
        return generator_depth(self.image_size)

    @property
    def size_multiple(self) -> int:
        """Height and width given to the generator must be multiples of this."""
        return 2**self.depth

    # ---- checks ------------------------------------------------------------------------------
    def validate(self) -> ModelConfig:
        """Raise :class:`ConfigError` naming the first bad setting and what to use; return self."""
        problems = self.problems()
        if problems:
            raise ConfigError("Model settings: " + "; ".join(problems))
        return self

    def problems(self) -> list[str]:
        out: list[str] = []

        def whole(name: str, value: Any) -> bool:
            if isinstance(value, bool) or not isinstance(value, int):
                out.append(f"{name} must be a whole number, got {value!r}")
                return False
            return True

        if self.arch not in ARCHS:
            out.append(f"arch {self.arch!r} is unknown: use one of {', '.join(ARCHS)}")
        if self.norm not in NORMS:
            out.append(f"norm {self.norm!r} is unknown: use one of {', '.join(NORMS)}")
        if whole("num_classes", self.num_classes) and self.num_classes < 2:
            out.append(
                f"num_classes is {self.num_classes}: the label maps need background plus at least "
                "one structure (2 or more classes)"
            )
        if whole("context_slices", self.context_slices) and not (
            0 <= self.context_slices <= MAX_CONTEXT_SLICES
        ):
            out.append(
                f"context_slices is {self.context_slices}: use 0 (single slice) to "
                f"{MAX_CONTEXT_SLICES} neighbour slices on each side"
            )
        if whole("image_size", self.image_size) and (problem := image_size_problem(self.image_size, "image_size")):
            out.append(problem)
        if whole("base_channels", self.base_channels) and self.base_channels < 8:
            out.append(f"base_channels is {self.base_channels}: use 8 or more (32 is a lean default)")
        if whole("max_channels", self.max_channels) and isinstance(self.base_channels, int):
            if self.max_channels < self.base_channels:
                out.append(
                    f"max_channels ({self.max_channels}) is below base_channels ({self.base_channels})"
                )
        if whole("spade_hidden", self.spade_hidden) and self.spade_hidden < 1:
            out.append(f"spade_hidden is {self.spade_hidden}: use 1 or more (32 is a lean default)")
        if whole("spade_kernel", self.spade_kernel) and self.spade_kernel not in (1, 3):
            out.append(f"spade_kernel is {self.spade_kernel}: use 1 (lean) or 3 (as in the SPADE paper)")
        if whole("style_dim", self.style_dim) and self.style_dim < 0:
            out.append(f"style_dim is {self.style_dim}: use 0 (no style input) or more")
        if whole("d_base_channels", self.d_base_channels) and self.d_base_channels < 8:
            out.append(f"d_base_channels is {self.d_base_channels}: use 8 or more")
        ok_layers = whole("d_layers", self.d_layers)
        if ok_layers and not 1 <= self.d_layers <= MAX_D_LAYERS:
            out.append(f"d_layers is {self.d_layers}: use 1 to {MAX_D_LAYERS} (3 = 70x70 PatchGAN)")
            ok_layers = False
        ok_scales = whole("d_scales", self.d_scales)
        if ok_scales and not 1 <= self.d_scales <= MAX_D_SCALES:
            out.append(f"d_scales is {self.d_scales}: use 1 to {MAX_D_SCALES}")
            ok_scales = False
        if ok_layers and ok_scales and isinstance(self.image_size, int) and self.image_size > 0:
            smallest = self.image_size / 2 ** (self.d_scales - 1) / 2**self.d_layers
            if smallest < 3:
                out.append(
                    f"the discriminator is too deep for {self.image_size}-pixel images: its coarsest "
                    f"scale would be {smallest:g} pixels after {self.d_layers} layers; lower d_layers "
                    "or d_scales, or raise image_size"
                )
        if whole("d_slices", self.d_slices) and not 1 <= self.d_slices <= MAX_D_SLICES:
            out.append(f"d_slices is {self.d_slices}: use 1 (each slice alone) to {MAX_D_SLICES} consecutive slices")
        if not isinstance(self.noise, bool):
            out.append(f"noise must be true or false, got {self.noise!r}")
        if not isinstance(self.spectral_norm, bool):
            out.append(f"spectral_norm must be true or false, got {self.spectral_norm!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)):
            out.append(f"dropout must be a number, got {self.dropout!r}")
        elif not 0.0 <= self.dropout < 1.0:
            out.append(f"dropout is {self.dropout}: use 0 (off) up to below 1 (pix2pix used 0.5)")
        return out

    # ---- compatibility -------------------------------------------------------------------------
    def signature(self) -> dict[str, Any]:
        """The settings that decide parameter names and shapes (see ``model_signature``)."""
        return {
            "layout_version": LAYOUT_VERSION,
            "arch": self.arch,
            "num_classes": self.num_classes,
            "context_slices": self.context_slices,
            "depth": self.depth,
            "base_channels": self.base_channels,
            "max_channels": self.max_channels,
            "spade_hidden": self.spade_hidden if self.arch == "spade_unet" else None,
            "spade_kernel": self.spade_kernel if self.arch == "spade_unet" else None,
            "style_dim": self.style_dim,
            "norm": self.norm,
            "noise": self.noise if self.arch == "spade_unet" else None,
            "d_slices": self.d_slices,
            "d_base_channels": self.d_base_channels,
            "d_layers": self.d_layers,
            "d_scales": self.d_scales,
            "spectral_norm": self.spectral_norm,
        }


GENERATOR_KEYS = (
    "layout_version",
    "arch",
    "num_classes",
    "context_slices",
    "depth",
    "base_channels",
    "max_channels",
    "spade_hidden",
    "spade_kernel",
    "style_dim",
    "norm",
    "noise",
)

_WHAT = {
    "layout_version": "model layout version",
    "arch": "architecture",
    "num_classes": "label classes",
    "context_slices": "neighbour slices on each side",
    "depth": "generator depth (down-sampling levels, set by image size)",
    "base_channels": "generator base channels",
    "max_channels": "generator channel cap",
    "spade_hidden": "SPADE hidden channels",
    "spade_kernel": "SPADE gamma/beta kernel size",
    "style_dim": "style vector size",
    "norm": "generator normalisation",
    "noise": "generator noise injection",
    "d_slices": "consecutive slices the discriminator sees",
    "d_base_channels": "discriminator base channels",
    "d_layers": "discriminator layers",
    "d_scales": "discriminator scales",
    "spectral_norm": "discriminator spectral normalisation",
}


def _as_signature(value: ModelConfig | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, ModelConfig):
        return value.signature()
    if isinstance(value, Mapping):
        data = dict(value)
        if "depth" not in data and "image_size" in data:
            # A full config dict (config.json) rather than a stored signature.
            known = {f.name for f in dataclasses.fields(ModelConfig)}
            return ModelConfig(**{k: v for k, v in data.items() if k in known}).signature()
        return data
    raise TypeError(f"expected a ModelConfig or a mapping, got {type(value).__name__}")


def describe_incompatibility(
    a: ModelConfig | Mapping[str, Any],
    b: ModelConfig | Mapping[str, Any],
    *,
    generator_only: bool = False,
) -> list[str]:
    """Human-readable reasons why weights saved with ``a`` (the checkpoint) cannot be loaded into
    a model built from ``b`` (this run); empty when they fit.

    ``a``/``b`` may be a :class:`ModelConfig`, a ``model_signature`` dict or a config dict.
    With ``generator_only`` (generation from a trained run) discriminator settings are ignored.
    """
    sa, sb = _as_signature(a), _as_signature(b)
    keys = GENERATOR_KEYS if generator_only else tuple(_WHAT)
    out: list[str] = []
    for key in keys:
        va, vb = sa.get(key), sb.get(key)
        if va == vb:
            continue
        if key == "arch":
            out.append(f"architecture: {va} vs {vb}")
        elif key == "layout_version":
            changed = [text for v, text in sorted(LAYOUT_CHANGES.items()) if _older(va, v) and not _older(vb, v)]
            out.append(
                f"{_WHAT[key]}: checkpoint has {_fmt(va)}, this run has {_fmt(vb)} (the checkpoint comes "
                "from a SynthVol build whose model code differs"
                + (f"; since then: {'; '.join(changed)}" if changed else "")
                + "; retrain or use that build)"
            )
        elif key in ("spade_hidden", "spade_kernel", "noise") and (va is None or vb is None):
            continue  # only one side is SPADE: the architecture line already says so
        elif key == "depth":
            out.append(
                f"{_WHAT[key]}: checkpoint has {va}, this run has {vb}; train at an image size with "
                "the same depth (e.g. the checkpoint's) or start a new run"
            )
        else:
            out.append(f"{_WHAT[key]}: checkpoint has {_fmt(va)}, this run has {_fmt(vb)}")
    return out


def _older(version: Any, than: int) -> bool:
    return isinstance(version, int) and not isinstance(version, bool) and version < than


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else str(value)


# ---- presets ---------------------------------------------------------------------------------
QUICK = ModelConfig(
    arch="spade_unet",
    image_size=128,
    base_channels=16,
    max_channels=128,
    spade_hidden=32,
    spade_kernel=1,
    style_dim=16,
    d_base_channels=32,
    d_layers=3,
    d_scales=2,
    spectral_norm=True,
    norm="pixel",
    noise=True,
    d_slices=2,
)
"""CPU preset: 128x128 crops, lean channels (base 16: a 512x512 slice in well under a second on
one CPU core). Fill in ``num_classes``/``context_slices`` with ``preset``."""

QUALITY = ModelConfig(
    arch="spade_unet",
    image_size=256,
    base_channels=64,
    max_channels=512,
    spade_hidden=128,
    spade_kernel=3,
    style_dim=64,
    d_base_channels=64,
    d_layers=3,
    d_scales=2,
    spectral_norm=True,
    norm="pixel",
    noise=True,
    d_slices=2,
)
"""GPU preset: 256x256 crops at the data's own spacing, SPADE hidden 128, style 64."""

PRESETS: dict[str, ModelConfig] = {"quick": QUICK, "quality": QUALITY}
PRESET_NAMES = tuple(PRESETS)

# The training half of each preset (its architecture is PRESETS above): both halves live here, the one
# place presets are defined; TrainingConfig.resolved() and the window read them.
# image_size is the side of the training crops, taken at the data's own in-plane spacing; the quick
# preset coarsens finer data to min_spacing_mm (by at most 2x: engine.data.cache.resolve_spacing),
# the quality preset (min_spacing_mm 0) never does. batch_size counts slices: a step draws
# batch_size // d_slices stacks of d_slices consecutive slices (at least one).
PRESET_TRAINING: dict[str, dict[str, Any]] = {
    "quick": {"image_size": 128, "batch_size": 4, "iterations": 1000, "lr_g": 4e-4, "lr_d": 4e-4,
              "min_spacing_mm": 1.0, "l1_pool": 4, "lambda_div": 1.0, "lambda_mean": 0.0,
              "lambda_rescan": 0.0, "lambda_hist": 10.0},
    "quality": {"image_size": 256, "batch_size": 16, "iterations": 50_000, "lr_g": 1e-4, "lr_d": 4e-4,
                "min_spacing_mm": 0.0, "l1_pool": 4, "lambda_div": 1.0, "lambda_mean": 0.0,
                "lambda_rescan": 0.0, "lambda_hist": 10.0},
}


def preset(name: str, **overrides: Any) -> ModelConfig:
    """A validated preset with overrides, e.g. ``preset("quick", num_classes=5)``."""
    try:
        base = PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown model preset {name!r}: use one of {', '.join(PRESETS)}") from None
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown model setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return dataclasses.replace(base, **overrides).validate()
