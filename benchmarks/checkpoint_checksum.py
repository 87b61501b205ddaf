"""What the checkpoint checksum costs: sha256 of a quality-preset trainer's state (generator,
discriminator, EMA, both Adam optimisers), at save and again at load.

    python benchmarks/checkpoint_checksum.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.models.config import preset
from engine.training.checkpoints import load_checkpoint, save_checkpoint, state_digest
from engine.training.gan import GanTrainer, StepSettings


def main() -> None:
    torch.set_num_threads(1)
    for name in ("quick", "quality"):
        cfg = preset(name, num_classes=4)
        gan = GanTrainer(
            cfg,
            StepSettings("hinge", 10.0, 10.0, 0.05, "fp32", False),
            torch.device("cpu"),
            1e-4,
            4e-4,
            (0.0, 0.99),
            0.999,
        )
        state = {
            "trainer": gan.state_dict(),
            "generator": gan.ema.module.state_dict(),
            "model_signature": cfg.signature(),
        }
        n_bytes = sum(t.numel() * t.element_size() for t in _tensors(state))
        t0 = time.perf_counter()
        state_digest(state)
        digest_s = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            path = save_checkpoint(state, Path(tmp), 1)
            save_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            load_checkpoint(path)
            load_s = time.perf_counter() - t0
        print(
            f"{name}: state {n_bytes / 1e6:.1f} MB; sha256 {digest_s:.3f} s ({n_bytes / 1e6 / digest_s:.0f} MB/s); "
            f"save (numbered + last.pt copy, with checksum) {save_s:.2f} s; load + verify {load_s:.2f} s"
        )


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)


if __name__ == "__main__":
    main()
