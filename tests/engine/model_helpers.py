"""Small model configs and inputs shared by the model tests."""

from __future__ import annotations

import os

import pytest
import torch

from engine.models import ModelConfig, one_hot_context

ARCHS = ("spade_unet", "pix2pix_unet")


def tiny(**overrides) -> ModelConfig:
    """A small but complete config: every code path, a fraction of the compute."""
    base = dict(
        num_classes=3,
        context_slices=1,
        image_size=64,
        base_channels=8,
        max_channels=32,
        spade_hidden=8,
        style_dim=4,
        d_base_channels=8,
        d_layers=3,
        d_scales=2,
    )
    base.update(overrides)
    return ModelConfig(**base).validate()


def random_context(cfg: ModelConfig, batch: int, h: int, w: int | None = None, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, cfg.num_classes, (batch, cfg.slices, h, w or h), generator=g)
    return one_hot_context(labels, cfg.num_classes)


@pytest.fixture(autouse=True, scope="module")
def torch_threads():
    """Honour SYNTHVOL_TORCH_THREADS (tests/conftest.py sets 1): steady timings on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("SYNTHVOL_TORCH_THREADS", before)))
    yield
    torch.set_num_threads(before)
