"""Memory planner: how much device memory a training step needs for a config, from a measured
forward/backward on small batches; the largest batch that fits ("auto"); and the smaller batch to
retry with after CUDA runs out of memory."""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass

import torch

from engine.models.config import ModelConfig
from engine.training.config import TrainingConfig
from engine.training.devices import resolve_device, resolve_precision
from engine.training.gan import GanTrainer, StepSettings

log = logging.getLogger(__name__)
SAFETY = 0.85  # plan to use at most this fraction of the free memory
MAX_AUTO_BATCH = 256
MAX_AUTO_BATCH_CPU = 8  # on a CPU speed, not memory, is the limit: bigger batches only slow each step


@dataclass(frozen=True)
class MemoryEstimate:
    device: str
    precision: str
    fixed_bytes: int  # weights, gradients, optimiser and EMA state, workspace
    per_sample_bytes: int  # activations per image in the batch
    available_bytes: int | None  # free device memory (None: unknown)
    measured: str  # "cuda peak" or "activation count"

    def bytes_for(self, batch: int) -> int:
        return self.fixed_bytes + batch * self.per_sample_bytes

    def largest_batch(self, limit: int = MAX_AUTO_BATCH) -> int:
        if not self.available_bytes:
            return min(limit, 16)
        room = SAFETY * self.available_bytes - self.fixed_bytes
        return int(max(1, min(limit, room // max(1, self.per_sample_bytes))))

    def describe(self, batch: int) -> str:
        gb = self.bytes_for(batch) / 2**30
        avail = f" of {self.available_bytes / 2**30:.1f} GB free" if self.available_bytes else ""
        return f"about {gb:.2f} GB at batch {batch}{avail} ({self.measured}, {self.precision})"


def _available(device: torch.device) -> int | None:
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        return int(pages * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _one_step(model_cfg: ModelConfig, settings: StepSettings, device: torch.device, stacks: int) -> int:
    """Bytes used by one training step on ``stacks`` stacks of ``d_slices`` slices: CUDA's peak
    allocation, or (elsewhere) the weights and optimiser state plus every activation the step
    keeps for backward."""
    torch.manual_seed(0)
    gan = GanTrainer(model_cfg, settings, device, 1e-4, 1e-4, (0.0, 0.99), 0.999)
    size, s = model_cfg.image_size, model_cfg.d_slices
    label = torch.zeros(stacks, s, model_cfg.in_channels, size, size)
    label[:, :, 0] = 1.0
    image = torch.zeros(stacks, s, 1, size, size)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        gan.step(label, image)
        gan.step(label, image)  # optimiser state exists from the second step on
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - base
        del gan
        torch.cuda.empty_cache()
        return int(peak)
    saved = []

    def pack(t: torch.Tensor):
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        gan.step(label, image)
    params = sum(p.numel() * p.element_size() for p in list(gan.gen.parameters()) + list(gan.disc.parameters()))
    # weights + grads + 2 Adam moments, and the EMA copy of the generator
    ema = sum(p.numel() * p.element_size() for p in gan.ema.module.parameters())
    return int(sum(saved) + 4 * params + ema)


def estimate_memory(model_cfg: ModelConfig, device: torch.device, precision: str, channels_last: bool | None = None,
                    lambda_div: float = 1.0) -> MemoryEstimate:
    cl = device.type == "cuda" if channels_last is None else channels_last
    settings = StepSettings(precision=precision, channels_last=cl, lambda_div=lambda_div)
    m1 = _one_step(model_cfg, settings, device, 1)
    m2 = _one_step(model_cfg, settings, device, 2)
    per = max(1, (m2 - m1) // model_cfg.d_slices)  # per slice: a stack holds d_slices of them
    fixed = max(0, m1 - per * model_cfg.d_slices)
    return MemoryEstimate(str(device), precision, fixed, per, _available(device),
                          "cuda peak" if device.type == "cuda" else "activation count")


def plan_batch_size(cfg: TrainingConfig, on_event=None) -> TrainingConfig:
    """The config with the largest batch size that fits the device ("auto")."""
    resolved = cfg.resolved()
    device = resolve_device(resolved.device)
    precision = resolve_precision(resolved.precision, device)
    # the label classes are not known before the scan; 8 is a generous stand-in for planning
    model_cfg = resolved.model_config(num_classes=8)
    est = estimate_memory(model_cfg, device, precision, resolved.channels_last, resolved.lambda_div)
    batch = est.largest_batch(MAX_AUTO_BATCH if device.type == "cuda" else MAX_AUTO_BATCH_CPU)
    text = f"Batch size auto: {batch} ({est.describe(batch)})"
    log.info(text)
    if on_event is not None:
        from engine.events import Log

        on_event(Log("info", text))
    return dataclasses.replace(cfg, batch_size=batch, auto_batch=False)


def smaller_batch(batch: int) -> int | None:
    """The batch to retry with after an out-of-memory error (None: nothing smaller to try)."""
    return batch // 2 if batch > 1 else None
