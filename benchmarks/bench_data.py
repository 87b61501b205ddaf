"""Shared by the training benchmarks: batches of real demo slices through the engine's data layer."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.data import discover  # noqa: E402
from engine.data.cache import PreprocessParams, prepare_cases  # noqa: E402
from engine.data.slices import SliceDataset, SliceSampler, sampling_weights, slice_table, stack_rows  # noqa: E402
from engine.data.split import make_split, training_slices, validation_slices  # noqa: E402
from engine.resources import DEMO_DATASET  # noqa: E402


class DemoBatches:
    """Training batches and a fixed validation set from the bundled demo (its run split)."""

    def __init__(self, image_size: int = 128, context: int = 1, seed: int = 0, data: Path = DEMO_DATASET,
                 stack: int = 1) -> None:
        scan = discover(data)
        cache = Path(tempfile.gettempdir()) / "synthvol-bench-cache"
        prepared = prepare_cases(scan.usable_cases, scan.label_table, PreprocessParams(image_size=image_size), cache)
        vols = prepared.volumes
        shapes = {v.case_id: v.shape[0] for v in vols}
        fg = {v.case_id: v.presence[:, 1:].any(axis=1) for v in vols}
        split = make_split([v.case_id for v in vols], fg, 0.2, seed, context)
        self.num_classes = scan.label_table.num_classes
        self.context = context
        train_rows = stack_rows(slice_table(vols, training_slices(split, shapes, context + stack - 1)), stack)
        val_rows = slice_table(vols, validation_slices(split, shapes))
        val_rows = val_rows[[bool(vols[v].presence[z, 1:].any()) for v, z in val_rows]]
        self.train = SliceDataset(vols, train_rows, image_size, context, self.num_classes, augment=True, stack=stack)
        self.stack = stack
        self.val = SliceDataset(vols, val_rows, image_size, context, self.num_classes, augment=False)
        self.sampler = SliceSampler(sampling_weights(vols, train_rows, 0.5), seed)

    @property
    def in_channels(self) -> int:
        return self.num_classes * (2 * self.context + 1)

    def batch(self, iteration: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` slices: size // stack stacks of ``stack`` consecutive slices (at least one)."""
        items = [self.train[x] for x in self.sampler.batch(iteration, max(1, size // self.stack))]
        return torch.stack([i["label"] for i in items]), torch.stack([i["image"] for i in items])

    def validation(self, n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
        idx = np.linspace(0, len(self.val) - 1, min(n, len(self.val))).round().astype(int)
        items = [self.val[int(i)] for i in idx]
        return torch.stack([i["label"] for i in items]), torch.stack([i["image"] for i in items])
