"""Style (appearance) code for diversity, the SPADE-paper VAE way.

A :class:`StyleEncoder` maps a real slice to ``(mu, logvar)``; training uses a reparameterised
sample, generation draws ``z ~ N(0, I)`` once per volume. :class:`FiLM` turns ``z`` into a
per-channel scale and shift of a feature map.
"""

from __future__ import annotations

import torch
from torch import nn

LOGVAR_MIN = -30.0
LOGVAR_MAX = 20.0


class StyleEncoder(nn.Module):
    """Image slice ``(B, 1, H, W)`` -> ``(mu, logvar)``, each ``(B, style_dim)``.

    Strided convs without normalisation (instance norm would erase the very intensity statistics
    the code should carry), then global average pooling so the code holds appearance, not anatomy.
    """

    def __init__(
        self, style_dim: int, base_channels: int = 32, max_channels: int = 256, layers: int = 4
    ) -> None:
        super().__init__()
        chans = [min(base_channels * 2**i, max_channels) for i in range(layers)]
        blocks: list[nn.Module] = []
        cin = 1
        for c in chans:
            blocks += [nn.Conv2d(cin, c, 3, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
            cin = c
        self.features = nn.Sequential(*blocks)
        self.mu = nn.Linear(cin, style_dim)
        self.logvar = nn.Linear(cin, style_dim)
        self.style_dim = style_dim

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(image).mean(dim=(2, 3))
        return self.mu(h), self.logvar(h)


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``mu + eps * exp(logvar / 2)`` with ``eps ~ N(0, I)``; logvar clamped to a safe range."""
    std = torch.exp(0.5 * logvar.clamp(LOGVAR_MIN, LOGVAR_MAX))
    # randn_like without a generator: torch.compile cannot trace randn(mu.shape) once the batch
    # dimension is dynamic (benchmarks/gpu_check.py found it); both draw the same numbers
    if generator is None:
        eps = torch.randn_like(mu)
    else:
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + eps * std


def sample_style(
    batch: int,
    style_dim: int,
    *,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``z ~ N(0, I)`` of shape ``(batch, style_dim)``. For a volume, draw one and repeat it for
    every slice: ``sample_style(1, d).expand(n_slices, -1)``."""
    return torch.randn((batch, style_dim), generator=generator, device=device)


class FiLM(nn.Module):
    """``x * (1 + scale(z)) + shift(z)`` with per-channel scale/shift from one linear layer."""

    def __init__(self, style_dim: int, channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(style_dim, 2 * channels)
        # Start gentle: a small random modulation (zero would make z ignored until trained, and
        # the default init swings features by ~50%).
        nn.init.normal_(self.linear.weight, std=0.1 / style_dim**0.5)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        scale, shift = self.linear(z).to(x.dtype)[:, :, None, None].chunk(2, dim=1)
        return x * (1 + scale) + shift  # keeps x's memory format (channels_last)
