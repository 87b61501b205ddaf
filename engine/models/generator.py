"""Label-map-to-slice generators: a SPADE U-Net (default) and the plain pix2pix U-Net.

Both take the 2.5-D label context ``(B, in_channels, H, W)`` (see :mod:`engine.models.context`)
and an optional style code ``z`` ``(B, style_dim)``, and return ``(B, 1, H, W)`` in [-1, 1].
``H`` and ``W`` must be multiples of ``2 ** cfg.depth`` (they need not be equal). ``z=None``
with ``style_dim > 0`` means the mean style (``z = 0``); pass one ``z`` for all slices of a volume.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.config import ModelConfig
from engine.models.spade import SPADE, ParamFreeNorm, label_pyramid
from engine.models.style import FiLM


def level_channels(cfg: ModelConfig, level: int) -> int:
    return min(cfg.base_channels * 2**level, cfg.max_channels)


class _GeneratorBase(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.in_channels = cfg.in_channels
        self.style_dim = cfg.style_dim
        self.size_multiple = cfg.size_multiple

    def _check(self, label_ctx: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor | None:
        if label_ctx.dim() != 4 or label_ctx.shape[1] != self.in_channels:
            raise ValueError(
                f"generator expects a label context of shape (batch, {self.in_channels}, H, W) "
                f"({self.cfg.num_classes} classes x {self.cfg.slices} slices), got {tuple(label_ctx.shape)}"
            )
        h, w = label_ctx.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(
                f"generator input {h}x{w} is not a multiple of {self.size_multiple} "
                f"(depth {self.cfg.depth}); pad or crop the slice"
            )
        if self.style_dim == 0:
            if z is not None:
                raise ValueError("this generator has no style input (style_dim 0) but z was given")
            return None
        if z is None:
            dtype = next(self.parameters()).dtype
            return torch.zeros((label_ctx.shape[0], self.style_dim), device=label_ctx.device, dtype=dtype)
        if z.dim() != 2 or z.shape[1] != self.style_dim or z.shape[0] not in (1, label_ctx.shape[0]):
            raise ValueError(f"z must have shape (batch, {self.style_dim}), got {tuple(z.shape)}")
        return z.expand(label_ctx.shape[0], -1)


class SpadeResBlock(nn.Module):
    """Pre-activation residual block: (SPADE, FiLM, LeakyReLU, conv) x 2, identity shortcut."""

    def __init__(
        self,
        channels: int,
        label_channels: int,
        hidden: int,
        norm: str,
        style_dim: int,
        spade_kernel: int = 3,
    ) -> None:
        super().__init__()
        self.spade1 = SPADE(channels, label_channels, hidden, norm, spade_kernel)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.spade2 = SPADE(channels, label_channels, hidden, norm, spade_kernel)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.film1 = FiLM(style_dim, channels) if style_dim else None
        self.film2 = FiLM(style_dim, channels) if style_dim else None

    def forward(self, x: torch.Tensor, seg: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        h = self.spade1(x, seg)
        if self.film1 is not None:
            h = self.film1(h, z)
        h = self.conv1(F.leaky_relu(h, 0.2))
        h = self.spade2(h, seg)
        if self.film2 is not None:
            h = self.film2(h, z)
        h = self.conv2(F.leaky_relu(h, 0.2))
        return x + h


class SpadeUpBlock(nn.Module):
    """1x1 conv to the skip's channels at the coarse resolution, nearest 2x up-sampling, skip
    added (cheaper than concatenation at full resolution), 3x3 conv, SPADE, FiLM, LeakyReLU."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        label_channels: int,
        hidden: int,
        norm: str,
        style_dim: int,
        spade_kernel: int = 3,
    ) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(in_ch, out_ch, 1)
        self.conv = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.spade = SPADE(out_ch, label_channels, hidden, norm, spade_kernel)
        self.film = FiLM(style_dim, out_ch) if style_dim else None

    def forward(
        self, x: torch.Tensor, skip: torch.Tensor, seg: torch.Tensor, z: torch.Tensor | None
    ) -> torch.Tensor:
        x = F.interpolate(self.reduce(x), scale_factor=2.0, mode="nearest") + skip
        h = self.spade(self.conv(x), seg)
        if self.film is not None:
            h = self.film(h, z)
        return F.leaky_relu(h, 0.2)


class SpadeUNetGenerator(_GeneratorBase):
    """U-Net: conv encoder (param-free norm, LeakyReLU) with skips; SPADE-modulated decoder,
    a SPADE residual block at the bottleneck, FiLM style modulation at every decoder stage."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        depth, lab, hid, norm, sd = cfg.depth, cfg.in_channels, cfg.spade_hidden, cfg.norm, cfg.style_dim
        k = cfg.spade_kernel
        ch = [level_channels(cfg, i) for i in range(depth + 1)]
        self.stem = nn.Sequential(nn.Conv2d(lab, ch[0], 3, padding=1), nn.LeakyReLU(0.2, inplace=True))
        self.down = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(ch[i - 1], ch[i], 3, stride=2, padding=1),
                ParamFreeNorm(ch[i], norm),
                nn.LeakyReLU(0.2, inplace=True),
            )
            for i in range(1, depth + 1)
        )
        self.bottleneck = SpadeResBlock(ch[depth], lab, hid, norm, sd, k)
        self.up = nn.ModuleList(
            SpadeUpBlock(ch[i], ch[i - 1], lab, hid, norm, sd, k) for i in range(depth, 0, -1)
        )
        self.head = nn.Conv2d(ch[0], 1, 3, padding=1)

    def forward(self, label_ctx: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        z = self._check(label_ctx, z)
        depth = len(self.down)
        segs = label_pyramid(label_ctx, depth)
        h = self.stem(label_ctx)
        skips = [h]
        for block in self.down:
            h = block(h)
            skips.append(h)
        h = self.bottleneck(skips.pop(), segs[depth], z)
        for i, block in zip(range(depth - 1, -1, -1), self.up, strict=True):
            h = block(h, skips[i], segs[i], z)
        return torch.tanh(self.head(h))


class Pix2PixUNetGenerator(_GeneratorBase):
    """The pix2pix U-Net (Isola et al. 2017): 4x4 stride-2 convs with norm and LeakyReLU(0.2) down,
    ReLU + 4x4 transposed convs with norm (and optional dropout) up, skips by concatenation, tanh.
    Depth follows the image size instead of going down to 1x1. With ``style_dim > 0`` each decoder
    stage is FiLM-modulated by ``z``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        depth, norm, sd = cfg.depth, cfg.norm, cfg.style_dim
        ch = [level_channels(cfg, i) for i in range(depth)]  # e_1 .. e_depth
        down: list[nn.Module] = [nn.Conv2d(cfg.in_channels, ch[0], 4, 2, 1)]  # outermost: no norm
        for i in range(1, depth):
            layers: list[nn.Module] = [nn.LeakyReLU(0.2), nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1)]
            if i < depth - 1:  # innermost: no norm
                layers.append(ParamFreeNorm(ch[i], norm))
            down.append(nn.Sequential(*layers))
        self.down = nn.ModuleList(down)

        up: list[nn.Module] = []
        films: list[nn.Module] = []
        for j, i in enumerate(range(depth - 1, 0, -1)):  # innermost first, producing ch[i-1]
            cin = ch[i] if i == depth - 1 else 2 * ch[i]
            layers = [nn.ReLU(), nn.ConvTranspose2d(cin, ch[i - 1], 4, 2, 1), ParamFreeNorm(ch[i - 1], norm)]
            if cfg.dropout > 0 and j < 3:
                layers.append(nn.Dropout(cfg.dropout))
            up.append(nn.Sequential(*layers))
            if sd:
                films.append(FiLM(sd, ch[i - 1]))
        self.up = nn.ModuleList(up)
        self.films = nn.ModuleList(films)
        self.outermost = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(2 * ch[0], 1, 4, 2, 1), nn.Tanh())

    def forward(self, label_ctx: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        z = self._check(label_ctx, z)
        feats = []
        h = label_ctx
        for block in self.down:
            h = block(h)
            feats.append(h)
        depth = len(feats)
        for j, block in enumerate(self.up):
            i = depth - 1 - j
            h = block(h if j == 0 else torch.cat([feats[i], h], dim=1))
            if len(self.films):
                h = self.films[j](h, z)
        return self.outermost(torch.cat([feats[0], h], dim=1))
