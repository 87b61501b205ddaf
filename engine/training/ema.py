"""Exponential moving average of the generator weights (used for previews and generation)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """``ema = d * ema + (1 - d) * current`` after every step, with a warm-up
    ``d = min(decay, (1 + n) / (10 + n))`` so early previews are not dominated by the random init."""

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = float(decay)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        ema_p = [p for p in self.module.parameters()]
        cur_p = [p.detach() for p in model.parameters()]
        if ema_p:
            torch._foreach_lerp_(ema_p, cur_p, 1.0 - d)
        for eb, cb in zip(self.module.buffers(), model.buffers()):
            eb.copy_(cb)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": torch.tensor(self.updates)}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
