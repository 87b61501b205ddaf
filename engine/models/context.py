"""The 2.5-D label context tensor the generator reads.

Layout: ``(B, num_classes * (2k + 1), H, W)`` float one-hot, slice-major: channels
``[s * num_classes, (s + 1) * num_classes)`` hold the one-hot of slice ``s`` where ``s = 0`` is
the slice ``k`` below the centre, ``s = k`` the centre slice and ``s = 2k`` the slice ``k`` above.
Neighbours beyond the volume's edge are the edge slice repeated (the data module's choice).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def one_hot_context(
    labels: torch.Tensor, num_classes: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``(B, S, H, W)`` integer class maps (S = 2k + 1 slices, consecutive classes) -> context tensor."""
    if labels.dim() != 4:
        raise ValueError(f"expected (batch, slices, height, width) labels, got shape {tuple(labels.shape)}")
    b, s, h, w = labels.shape
    hot = F.one_hot(labels.long(), num_classes)  # (B, S, H, W, C)
    return hot.permute(0, 1, 4, 2, 3).reshape(b, s * num_classes, h, w).to(dtype)


def centre_label(label_ctx: torch.Tensor, num_classes: int, context_slices: int) -> torch.Tensor:
    """The centre slice's one-hot ``(B, num_classes, H, W)`` out of a context tensor."""
    expected = num_classes * (2 * context_slices + 1)
    if label_ctx.shape[1] != expected:
        raise ValueError(
            f"label context has {label_ctx.shape[1]} channels, expected {expected} "
            f"({num_classes} classes x {2 * context_slices + 1} slices)"
        )
    start = context_slices * num_classes
    return label_ctx[:, start : start + num_classes]
