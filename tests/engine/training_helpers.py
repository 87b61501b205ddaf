"""Small, fast training configs on the bundled demo dataset for tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from engine.resources import DEMO_DATASET
from engine.training.config import TrainingConfig

TINY_MODEL = {"max_channels": 32, "spade_hidden": 8, "style_dim": 4, "d_base_channels": 8, "d_layers": 2}


def tiny_config(run: Path, **overrides) -> TrainingConfig:
    cfg = TrainingConfig(
        data=DEMO_DATASET,
        run=run,
        preset="quick",
        iterations=6,
        image_size=64,
        batch_size=2,
        base_channels=8,
        model_overrides=dict(TINY_MODEL),
        checkpoint_every=3,
        log_every=1,
        val_every=3,
        preview_every=3,
        val_slices=4,
        device="cpu",
        threads=1,
        cache_dir=run.parent / "cache",
    )
    return dataclasses.replace(cfg, **overrides)


def settings_file(folder: Path, **overrides) -> Path:
    """A --config JSON for `python main.py train` with the tiny model of tiny_config (CPU, seconds)."""
    import json

    settings = {
        "image_size": 64, "batch_size": 2, "base_channels": 8, "model_overrides": TINY_MODEL, "log_every": 1,
        "val_every": 3, "preview_every": 3, "val_slices": 4, "threads": 1, "cache_dir": str(folder / "cache"),
        **overrides,
    }
    path = folder / "settings.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path
