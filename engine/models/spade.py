"""Parameter-free normalisation and SPADE (Park et al. 2019): normalise, then modulate with a
per-pixel scale and shift predicted from the label map at the layer's resolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NORM_KINDS = ("pixel", "instance", "batch")


class ParamFreeNorm(nn.Module):
    """Normalisation without learnt affine parameters (SPADE supplies the scale and shift).

    - ``pixel``: each pixel's feature vector to zero mean and unit variance over the channels
      (positional normalisation, Li et al. 2019). It looks at one pixel only, so a crop and the
      same region of a whole slice get the same result: training on crops and generating whole
      slices fully convolutionally agree. The default.
    - ``instance``: per channel over the image (``F.group_norm`` with one group per channel). Its
      statistics depend on the image extent: a crop and a whole slice disagree.
    - ``batch``: per channel over the batch, running statistics at eval time.
    """

    def __init__(self, channels: int, kind: str = "pixel", eps: float = 1e-5) -> None:
        super().__init__()
        if kind not in NORM_KINDS:
            raise ValueError(f"unknown norm {kind!r}")
        self.kind = kind
        self.channels = channels
        self.eps = eps
        self.batch_norm = nn.BatchNorm2d(channels, affine=False, eps=eps) if kind == "batch" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.batch_norm is not None:
            return self.batch_norm(x)
        if self.kind == "pixel":
            # layer_norm over the channel axis of an NHWC view: one fused kernel, no copy for
            # channels_last tensors
            return F.layer_norm(x.permute(0, 2, 3, 1), (self.channels,), eps=self.eps).permute(0, 3, 1, 2)
        return F.group_norm(x, self.channels, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.channels}, kind={self.kind}"


class NoiseInjection(nn.Module):
    """``x + weight * noise`` (StyleGAN): one map of N(0, 1) noise per pixel, scaled per channel by
    learnt weights that start at zero. It is the source of fine texture that the label map does
    not fix (CT noise grain, small vessels, trabeculae): every seed draws new noise."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        # one fused multiply-add; the noise map made contiguous first (it is a strided view)
        return torch.addcmul(x, self.weight.to(x.dtype)[None, :, None, None], noise.to(x.dtype).contiguous())


class SPADE(nn.Module):
    """``norm(x) * (1 + gamma(seg)) + beta(seg)``; ``seg`` must already have ``x``'s size.

    ``shared`` is a 3x3 conv + ReLU on the labels; ``kernel`` (1 or 3) sizes the gamma/beta conv."""

    def __init__(
        self, channels: int, label_channels: int, hidden: int, norm: str = "pixel", kernel: int = 3
    ) -> None:
        super().__init__()
        self.norm = ParamFreeNorm(channels, norm)
        self.shared = nn.Sequential(nn.Conv2d(label_channels, hidden, 3, padding=1), nn.ReLU(inplace=True))
        # gamma and beta from one conv (one kernel launch), split afterwards. The paper's 3x3; 1x1
        # is ~9x cheaper at full resolution and still sees 3x3 of labels through ``shared``.
        self.gamma_beta = nn.Conv2d(hidden, 2 * channels, kernel, padding=kernel // 2)
        self.channels = channels

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.gamma_beta(self.shared(seg)).chunk(2, dim=1)
        return torch.addcmul(beta, self.norm(x), 1 + gamma)


def label_pyramid(label_ctx: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``[label_ctx, /2, /4, ...]`` (``levels + 1`` entries) by 2x2 average pooling: soft one-hot,
    so a structure smaller than a coarse pixel still shows as a fraction instead of vanishing."""
    out = [label_ctx]
    for _ in range(levels):
        out.append(F.avg_pool2d(out[-1], 2))
    return out
