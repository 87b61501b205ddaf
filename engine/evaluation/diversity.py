"""Diversity: how alike several synthetic samples of the same label map are (mean pairwise
MS-SSIM; lower = more varied), beside the same number for real neighbouring slices.

MS-SSIM (torchmetrics, Gaussian window 11, sigma 1.5, data range 2, negative similarities clipped
at 0) uses the standard five scale weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333) when the image
is large enough, else the first scales only, their weights rescaled to sum to 1: 4 scales at
128 px, 3 at 64 px, 5 from 256 px (``ms_ssim_scales``).

Collapse: a generator that makes (nearly) the same image for every style code gives samples with
MS-SSIM near 1; ``COLLAPSE_MS_SSIM`` is the line above which the report warns.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

STANDARD_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
KERNEL = 11
COLLAPSE_MS_SSIM = 0.99


def ms_ssim_scales(height: int, width: int, kernel: int = KERNEL) -> int:
    """The most scales (<= 5) torchmetrics accepts for this image size (at least 1)."""
    side = min(height, width)
    for s in range(len(STANDARD_BETAS), 1, -1):
        if side >= 2**s and side // max(1, s - 1) ** 2 > kernel - 1 and side // 2 ** (s - 1) > kernel // 2:
            return s
    return 1


def ms_ssim_betas(height: int, width: int) -> tuple[float, ...]:
    s = ms_ssim_scales(height, width)
    b = np.array(STANDARD_BETAS[:s], np.float64)
    return tuple(float(v) for v in b / b.sum())


def ms_ssim(a: np.ndarray, b: np.ndarray, data_range: float = 2.0) -> np.ndarray:
    """MS-SSIM of each pair (N,) for slices (N, H, W) in the normalised space."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    if len(a) == 0:
        return np.zeros(0, np.float32)
    h, w = a.shape[-2:]
    ta = torch.from_numpy(np.ascontiguousarray(a))[:, None]
    tb = torch.from_numpy(np.ascontiguousarray(b))[:, None]
    if ms_ssim_scales(h, w) == 1:  # too small for several scales: plain SSIM
        from torchmetrics.functional.image import structural_similarity_index_measure

        vals = structural_similarity_index_measure(ta, tb, data_range=data_range, reduction="none")
    else:
        vals = multiscale_structural_similarity_index_measure(
            ta,
            tb,
            data_range=data_range,
            kernel_size=KERNEL,
            sigma=1.5,
            betas=ms_ssim_betas(h, w),
            normalize="relu",
            reduction="none",
        )
    return np.clip(np.nan_to_num(vals.numpy().astype(np.float64), nan=0.0), 0.0, 1.0)


def mean_pairwise_ms_ssim(groups: list[np.ndarray], data_range: float = 2.0) -> tuple[float, list[float]]:
    """Mean over groups of the mean MS-SSIM over all pairs within a group (each (S, H, W), S >= 2).
    Returns the mean and the per-group means."""
    per_group = []
    for g in groups:
        if len(g) < 2:
            continue
        pairs = list(itertools.combinations(range(len(g)), 2))
        i, j = (np.array(x) for x in zip(*pairs))
        per_group.append(float(np.mean(ms_ssim(g[i], g[j], data_range))))
    return (float(np.mean(per_group)) if per_group else 0.0), per_group


def diversity_measures(
    synthetic_groups: list[np.ndarray], real_groups: list[np.ndarray], has_style: bool = True
) -> dict:
    """``synthetic_groups``: per label map, the samples (S, H, W) drawn with different style seeds;
    ``real_groups``: per map, S real neighbouring slices (S, H, W)."""
    syn, syn_per = mean_pairwise_ms_ssim(synthetic_groups)
    real, real_per = mean_pairwise_ms_ssim(real_groups)
    h, w = synthetic_groups[0].shape[-2:] if synthetic_groups else (0, 0)
    return {
        "ms_ssim_synthetic": syn,
        "ms_ssim_real": real,
        "collapsed": bool(syn >= COLLAPSE_MS_SSIM),
        "collapse_threshold": COLLAPSE_MS_SSIM,
        "has_style": bool(has_style),
        "maps": len(syn_per),
        "samples_per_map": int(len(synthetic_groups[0])) if synthetic_groups else 0,
        "scales": ms_ssim_scales(h, w) if h else 0,
        "per_map_synthetic": syn_per,
        "per_map_real": real_per,
    }
