"""A small 2-D segmentation U-Net for the utility test, and the Dice score.

Four levels (c, 2c, 4c, 8c channels; c = 8 by default: about 120 k parameters, a 128 px slice
reaches 16 px at the bottom), two 3x3 convolutions with GroupNorm and LeakyReLU per block, max-pool
down, bilinear up with skip connections; one image channel in, one logit per class out. Small
enough to train for a few hundred iterations on a CPU.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    g = max(1, min(8, cout // 4))
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.GroupNorm(g, cout),
        nn.LeakyReLU(0.1, inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.GroupNorm(g, cout),
        nn.LeakyReLU(0.1, inplace=True),
    )


class SmallUNet(nn.Module):
    def __init__(self, num_classes: int, channels: int = 8, levels: int = 4) -> None:
        super().__init__()
        widths = [channels * 2**i for i in range(levels)]
        self.down = nn.ModuleList()
        cin = 1
        for w in widths:
            self.down.append(_block(cin, w))
            cin = w
        self.up = nn.ModuleList(
            _block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(levels - 1))
        )
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for block in self.up:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)


def dice_per_class(pred: np.ndarray, truth: np.ndarray, classes: list[int]) -> dict[int, float | None]:
    """Dice = 2|P n T| / (|P| + |T|) per class, pooled over all pixels of all slices; None where
    the class is in neither (undefined, left out of any mean)."""
    pred = np.asarray(pred)
    truth = np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"dice: prediction {pred.shape} and truth {truth.shape} differ in shape")
    out: dict[int, float | None] = {}
    for c in classes:
        p, t = pred == c, truth == c
        denom = int(p.sum()) + int(t.sum())
        out[c] = None if denom == 0 else 2.0 * float(np.logical_and(p, t).sum()) / denom
    return out


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """1 - mean soft Dice over the foreground classes (batch pooled)."""
    if num_classes < 2:
        return logits.sum() * 0.0
    prob = logits.softmax(dim=1)[:, 1:]
    hot = F.one_hot(target, num_classes).permute(0, 3, 1, 2).float()[:, 1:]
    inter = (prob * hot).sum(dim=(0, 2, 3))
    denom = prob.sum(dim=(0, 2, 3)) + hot.sum(dim=(0, 2, 3))
    return 1.0 - ((2 * inter + 1.0) / (denom + 1.0)).mean()
