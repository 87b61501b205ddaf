"""Build models from a :class:`ModelConfig`; parameter counts; the checkpoint signature."""

from __future__ import annotations

from typing import Any

from torch import nn

from engine.models.config import ModelConfig
from engine.models.discriminator import MultiScaleDiscriminator
from engine.models.generator import Pix2PixUNetGenerator, SpadeUNetGenerator
from engine.models.style import StyleEncoder


def build_generator(cfg: ModelConfig) -> nn.Module:
    """``forward(label_ctx (B, in_channels, H, W), z (B, style_dim) | None) -> (B, 1, H, W)``."""
    cfg.validate()
    if cfg.arch == "pix2pix_unet":
        return Pix2PixUNetGenerator(cfg)
    return SpadeUNetGenerator(cfg)


def build_discriminator(cfg: ModelConfig) -> MultiScaleDiscriminator:
    """``forward(centre_label (B, num_classes, H, W), image (B, 1, H, W)) -> list[list[Tensor]]``."""
    cfg.validate()
    return MultiScaleDiscriminator(cfg)


def build_style_encoder(cfg: ModelConfig) -> StyleEncoder | None:
    """``forward(image (B, 1, H, W)) -> (mu, logvar)``; None when ``style_dim == 0``."""
    cfg.validate()
    if cfg.style_dim == 0:
        return None
    return StyleEncoder(cfg.style_dim, cfg.base_channels, cfg.max_channels, layers=min(4, cfg.depth))


def count_parameters(module: nn.Module | None, trainable_only: bool = True) -> int:
    if module is None:
        return 0
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def model_signature(cfg: ModelConfig) -> dict[str, Any]:
    """The architecture-defining settings (those that decide parameter names and shapes), as a
    plain JSON-able dict to store in checkpoints and compare with ``describe_incompatibility``.
    ``image_size`` enters only through ``depth``: sizes with the same depth share weights."""
    return cfg.signature()
