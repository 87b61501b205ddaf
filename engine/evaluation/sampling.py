"""Synthetic slices for the report: a run's generator applied to label contexts of real slices.

A *slice generator* is any callable ``(contexts (B, C*(2k+1), S, S) float32, style_seed | None)
-> (B, S, S) float32 in [-1, 1]``. ``style_seed=None`` asks for the mean style (z = 0); a seed
draws one style code for the whole call, as :class:`~engine.synthesis.synthesizer.Synthesizer`
uses one code per volume. Tests and the GUI can pass their own callables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch

from engine.synthesis.synthesizer import Synthesizer


class SliceGenerator(Protocol):
    has_style: bool

    def __call__(self, contexts: np.ndarray, style_seed: int | None) -> np.ndarray: ...


class RunSliceGenerator:
    """The EMA generator of a trained run as a slice generator. Noise, like the style, comes from
    the seed (``None``: seed 0): the n-th slice asked for with a seed gets that seed's n-th noise
    draw, as the n-th slice of an exported volume does, so a report is reproducible."""

    def __init__(self, synthesizer: Synthesizer) -> None:
        self.synthesizer = synthesizer
        self.has_style = synthesizer.model_cfg.style_dim > 0
        self._drawn: dict[int | None, int] = {}

    @torch.no_grad()
    def __call__(self, contexts: np.ndarray, style_seed: int | None) -> np.ndarray:
        synth = self.synthesizer
        x = torch.from_numpy(np.ascontiguousarray(contexts, dtype=np.float32)).to(synth.device)
        z = synth.style(style_seed) if (style_seed is not None and self.has_style) else None
        if z is not None:
            z = z.to(synth.device)
        first = self._drawn.get(style_seed, 0)
        self._drawn[style_seed] = first + len(x)
        seed = 0 if style_seed is None else style_seed
        noise = None
        if synth.noise_levels:
            h, w = x.shape[-2:]
            noise = torch.cat([synth.slice_noise(seed, first + i, h, w) for i in range(len(x))]).to(synth.device)
        return synth.forward_slices(x, z, noise).float().clamp(-1, 1).cpu().numpy()[:, 0]


class FunctionSliceGenerator:
    """A plain function as a slice generator (tests, other models)."""

    def __init__(self, fn: Callable[[np.ndarray, int | None], np.ndarray], has_style: bool = True) -> None:
        self.fn = fn
        self.has_style = has_style

    def __call__(self, contexts: np.ndarray, style_seed: int | None) -> np.ndarray:
        return np.asarray(self.fn(contexts, style_seed), dtype=np.float32)


def generate_for_rows(
    make_contexts: Callable[[np.ndarray], np.ndarray],
    rows: np.ndarray,
    generator: SliceGenerator,
    style_seeds: Sequence[int | None],
    batch_size: int = 8,
    tick: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Synthetic slices (N, S, S) for the label contexts of ``rows``, one style seed per row (rows
    sharing a seed share a style code, as the slices of one synthetic volume do), in batches;
    ``tick(n)`` after each batch (progress and the stop/pause check)."""
    if len(style_seeds) != len(rows):
        raise ValueError(f"generate_for_rows: {len(rows)} rows but {len(style_seeds)} style seeds")
    outs = []
    start = 0
    while start < len(rows):
        stop = start + 1
        while stop < len(rows) and stop - start < batch_size and style_seeds[stop] == style_seeds[start]:
            stop += 1
        part = rows[start:stop]
        outs.append(np.clip(generator(make_contexts(part), style_seeds[start]), -1.0, 1.0).astype(np.float32))
        if tick is not None:
            tick(len(part))
        start = stop
    if not outs:
        return np.zeros((0, 0, 0), np.float32)
    return np.concatenate(outs)
