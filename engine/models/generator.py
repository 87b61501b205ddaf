"""Label-map-to-slice generators: a SPADE U-Net (default) and the plain pix2pix U-Net.

Both take the 2.5-D label context ``(B, in_channels, H, W)`` (see :mod:`engine.models.context`)
and an optional style code ``z`` ``(B, style_dim)``, and return ``(B, 1, H, W)`` in [-1, 1].
``H`` and ``W`` must be multiples of ``2 ** cfg.depth`` (they need not be equal, nor the training
crop size: the generators are fully convolutional). ``z=None`` with ``style_dim > 0`` means the
mean style (``z = 0``); pass one ``z`` for all slices of a volume.

The SPADE U-Net also takes per-pixel ``noise`` ``(B, depth + 1, H, W)`` of N(0, 1) (drawn from
torch's global generator when ``None``): level ``l`` (resolution ``1 / 2**l``) reads channel ``l``
at every ``2**l``-th pixel, so a crop of the noise whose origin is a multiple of ``2 ** depth``
gives the same noise as the whole slice (tiles and crops agree).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.config import ModelConfig
from engine.models.spade import SPADE, NoiseInjection, ParamFreeNorm, label_pyramid
from engine.models.style import FiLM


def level_channels(cfg: ModelConfig, level: int) -> int:
    return min(cfg.base_channels * 2**level, cfg.max_channels)


def make_noise(shape_like: torch.Tensor, levels: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """N(0, 1) noise ``(B, levels, H, W)`` for a label context ``(B, C, H, W)``."""
    b, _, h, w = shape_like.shape
    return torch.randn((b, levels, h, w), generator=generator, device=shape_like.device, dtype=torch.float32)


def noise_at(noise: torch.Tensor, level: int) -> torch.Tensor:
    """The level's noise map ``(B, 1, H / 2**level, W / 2**level)``."""
    step = 2**level
    return noise[:, level : level + 1, ::step, ::step]


class _GeneratorBase(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.in_channels = cfg.in_channels
        self.style_dim = cfg.style_dim
        self.size_multiple = cfg.size_multiple
        self.noise_levels = cfg.depth + 1 if cfg.noise else 0

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

    def _noise(self, label_ctx: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor | None:
        if not self.noise_levels:
            return None
        if noise is None:
            return make_noise(label_ctx, self.noise_levels)
        b, _, h, w = label_ctx.shape
        if noise.dim() != 4 or noise.shape[1] != self.noise_levels or tuple(noise.shape[-2:]) != (h, w):
            raise ValueError(
                f"noise must have shape (batch, {self.noise_levels}, {h}, {w}), got {tuple(noise.shape)}"
            )
        return noise.expand(b, -1, -1, -1) if noise.shape[0] == 1 else noise


class SpadeResBlock(nn.Module):
    """Pre-activation residual block: (SPADE, FiLM, noise, LeakyReLU, conv) x 2, identity shortcut.
    The noise is added after the normalisation and modulation (as StyleGAN adds it after the
    convolution, outside the normalisation), so no norm removes it."""

    def __init__(
        self,
        channels: int,
        label_channels: int,
        hidden: int,
        norm: str,
        style_dim: int,
        spade_kernel: int = 3,
        noise: bool = True,
    ) -> None:
        super().__init__()
        self.spade1 = SPADE(channels, label_channels, hidden, norm, spade_kernel)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.spade2 = SPADE(channels, label_channels, hidden, norm, spade_kernel)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.film1 = FiLM(style_dim, channels) if style_dim else None
        self.film2 = FiLM(style_dim, channels) if style_dim else None
        self.noise1 = NoiseInjection(channels) if noise else None
        self.noise2 = NoiseInjection(channels) if noise else None

    def forward(
        self, x: torch.Tensor, seg: torch.Tensor, z: torch.Tensor | None, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        h = self.spade1(x, seg)
        if self.film1 is not None:
            h = self.film1(h, z)
        if self.noise1 is not None:
            h = self.noise1(h, noise)
        h = self.conv1(F.leaky_relu(h, 0.2))
        h = self.spade2(h, seg)
        if self.film2 is not None:
            h = self.film2(h, z)
        if self.noise2 is not None:
            h = self.noise2(h, noise)
        h = self.conv2(F.leaky_relu(h, 0.2))
        return x + h


class SpadeUpBlock(nn.Module):
    """1x1 conv to the skip's channels at the coarse resolution, nearest 2x up-sampling, skip
    added (cheaper than concatenation at full resolution), 3x3 conv, SPADE, FiLM, noise, LeakyReLU."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        label_channels: int,
        hidden: int,
        norm: str,
        style_dim: int,
        spade_kernel: int = 3,
        noise: bool = True,
    ) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(in_ch, out_ch, 1)
        self.conv = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.spade = SPADE(out_ch, label_channels, hidden, norm, spade_kernel)
        self.film = FiLM(style_dim, out_ch) if style_dim else None
        self.noise = NoiseInjection(out_ch) if noise else None

    def forward(
        self,
        x: torch.Tensor,
        skip: torch.Tensor,
        seg: torch.Tensor,
        z: torch.Tensor | None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = F.interpolate(self.reduce(x), scale_factor=2.0, mode="nearest") + skip
        h = self.spade(self.conv(x), seg)
        if self.film is not None:
            h = self.film(h, z)
        if self.noise is not None:
            h = self.noise(h, noise)
        return F.leaky_relu(h, 0.2)


class SpadeUNetGenerator(_GeneratorBase):
    """U-Net: conv encoder (param-free norm, LeakyReLU) with skips; SPADE-modulated decoder with
    noise injection at every stage, a SPADE residual block at the bottleneck, FiLM style
    modulation at every decoder stage."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        depth, lab, hid, norm, sd = cfg.depth, cfg.in_channels, cfg.spade_hidden, cfg.norm, cfg.style_dim
        k, nz = cfg.spade_kernel, cfg.noise
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
        self.bottleneck = SpadeResBlock(ch[depth], lab, hid, norm, sd, k, nz)
        self.up = nn.ModuleList(
            SpadeUpBlock(ch[i], ch[i - 1], lab, hid, norm, sd, k, nz) for i in range(depth, 0, -1)
        )
        self.head = nn.Conv2d(ch[0], 1, 3, padding=1)

    def forward(
        self, label_ctx: torch.Tensor, z: torch.Tensor | None = None, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        z = self._check(label_ctx, z)
        noise = self._noise(label_ctx, noise)
        depth = len(self.down)
        segs = label_pyramid(label_ctx, depth)
        h = self.stem(label_ctx)
        skips = [h]
        for block in self.down:
            h = block(h)
            skips.append(h)

        def level_noise(level: int) -> torch.Tensor | None:
            return None if noise is None else noise_at(noise, level)

        h = self.bottleneck(skips.pop(), segs[depth], z, level_noise(depth))
        for i, block in zip(range(depth - 1, -1, -1), self.up, strict=True):
            h = block(h, skips[i], segs[i], z, level_noise(i))
        return torch.tanh(self.head(h))


class Pix2PixUNetGenerator(_GeneratorBase):
    """The pix2pix U-Net (Isola et al. 2017): 4x4 stride-2 convs with norm and LeakyReLU(0.2) down,
    ReLU + 4x4 transposed convs with norm (and optional dropout) up, skips by concatenation, tanh.
    Depth follows the image size instead of going down to 1x1. With ``style_dim > 0`` each decoder
    stage is FiLM-modulated by ``z``. It has no noise inputs (``noise`` is accepted and ignored)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.noise_levels = 0
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

    def forward(
        self, label_ctx: torch.Tensor, z: torch.Tensor | None = None, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
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
