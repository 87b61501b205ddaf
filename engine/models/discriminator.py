"""Multi-scale PatchGAN discriminator conditioned on the centre-slice label map.

Input: the centre slices' one-hot ``(B, S * num_classes, H, W)`` and images ``(B, S, H, W)`` of
``S = d_slices`` consecutive slices (S = 1: one slice). Seeing neighbouring slices together it
judges what changes from one slice to the next as well as each slice: flicker between slices (seen
as stripes in coronal and sagittal views) and noise that is too alike or too different from slice
to slice give the generator away.
``forward`` returns one list per scale (full resolution first, then each 2x average-pooled),
each the block outputs in order with the patch logits ``(B, 1, h, w)`` last: the intermediate
ones feed the feature-matching loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from engine.models.config import ModelConfig


class PatchDiscriminator(nn.Module):
    """pix2pix's N-layer PatchGAN (70x70 receptive field with ``layers=3``): ``layers`` 4x4
    stride-2 convs, one 4x4 stride-1 conv, a 4x4 stride-1 conv to one logit per patch.
    With spectral normalisation there are no norm layers; without, param-free instance norm."""

    def __init__(
        self, in_channels: int, base_channels: int = 64, layers: int = 3, use_sn: bool = True
    ) -> None:
        super().__init__()

        def conv(cin: int, cout: int, stride: int) -> nn.Conv2d:
            c = nn.Conv2d(cin, cout, 4, stride=stride, padding=1)
            return _spectral_norm(c) if use_sn else c

        def norm(c: int) -> list[nn.Module]:
            return [] if use_sn else [nn.GroupNorm(c, c, affine=False)]

        cap = 8 * base_channels
        blocks: list[nn.Module] = [
            nn.Sequential(conv(in_channels, base_channels, 2), nn.LeakyReLU(0.2, True))
        ]
        cin = base_channels
        for n in range(1, layers):
            cout = min(base_channels * 2**n, cap)
            blocks.append(nn.Sequential(conv(cin, cout, 2), *norm(cout), nn.LeakyReLU(0.2, True)))
            cin = cout
        cout = min(base_channels * 2**layers, cap)
        blocks.append(nn.Sequential(conv(cin, cout, 1), *norm(cout), nn.LeakyReLU(0.2, True)))
        blocks.append(conv(cout, 1, 1))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return feats


class MultiScaleDiscriminator(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.num_classes = cfg.num_classes
        self.slices = cfg.d_slices
        channels = cfg.d_slices * (cfg.num_classes + 1)
        self.scales = nn.ModuleList(
            PatchDiscriminator(channels, cfg.d_base_channels, cfg.d_layers, cfg.spectral_norm)
            for _ in range(cfg.d_scales)
        )

    def forward(self, label: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        s = self.slices
        if label.dim() != 4 or label.shape[1] != s * self.num_classes:
            raise ValueError(
                f"discriminator expects the centre slice's one-hot ({self.num_classes} channels"
                + (f" for each of {s} consecutive slices" if s > 1 else "")
                + f"), got shape {tuple(label.shape)}; use engine.models.centre_label on the context"
            )
        if image.dim() != 4 or image.shape[1] != s:
            raise ValueError(f"discriminator expects {s} image channel(s), got shape {tuple(image.shape)}")
        x = torch.cat([label.to(image.dtype), image], dim=1)
        out = []
        for i, disc in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 2)
            out.append(disc(x))
        return out
