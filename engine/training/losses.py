"""GAN training losses, all computed in float32 outside autocast (safe under bf16 autocast).

Discriminator outputs may be given as a tensor of logits, a list of per-scale logits, or the
multi-scale discriminator's ``list[list[Tensor]]`` (features with logits last per scale);
adversarial losses are averaged over scales.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F

DOutput = torch.Tensor | Sequence[torch.Tensor] | Sequence[Sequence[torch.Tensor]]
GanMode = Literal["hinge", "lsgan"]
GAN_MODES = ("hinge", "lsgan")


# The weights of the SPADE-style objective (hinge GAN + feature matching, with an L1 reconstruction
# term because training pairs are aligned, and the style VAE's KL), defined once: TrainingConfig and
# the GAN step take their defaults from here.
LAMBDA_FM = 10.0
LAMBDA_L1 = 10.0
LAMBDA_KL = 0.05


def _no_autocast(t: torch.Tensor) -> torch.autocast:
    return torch.autocast(device_type=t.device.type, enabled=False)


def _logits(d_out: DOutput) -> list[torch.Tensor]:
    if isinstance(d_out, torch.Tensor):
        return [d_out]
    out = []
    for item in d_out:
        out.append(item if isinstance(item, torch.Tensor) else item[-1])
    if not out:
        raise ValueError("empty discriminator output")
    return out


def _check_mode(mode: str) -> None:
    if mode not in GAN_MODES:
        raise ValueError(f"unknown GAN loss {mode!r}: use one of {', '.join(GAN_MODES)}")


def d_adversarial_loss(real: DOutput, fake: DOutput, mode: GanMode = "hinge") -> torch.Tensor:
    """Discriminator loss. Hinge: ``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))`` (zero once
    real logits >= 1 and fake <= -1). LSGAN: ``mean((D(real) - 1)^2) + mean(D(fake)^2)``, halved."""
    _check_mode(mode)
    reals, fakes = _logits(real), _logits(fake)
    if len(reals) != len(fakes):
        raise ValueError(f"real has {len(reals)} scales, fake has {len(fakes)}")
    with _no_autocast(reals[0]):
        total = reals[0].new_zeros((), dtype=torch.float32)
        for r, f in zip(reals, fakes, strict=True):
            r, f = r.float(), f.float()
            if mode == "hinge":
                total = total + F.relu(1.0 - r).mean() + F.relu(1.0 + f).mean()
            else:
                total = total + 0.5 * ((r - 1.0).square().mean() + f.square().mean())
        return total / len(reals)


def g_adversarial_loss(fake: DOutput, mode: GanMode = "hinge") -> torch.Tensor:
    """Generator loss. Hinge: ``-mean(D(fake))``. LSGAN: ``mean((D(fake) - 1)^2) / 2``."""
    _check_mode(mode)
    fakes = _logits(fake)
    with _no_autocast(fakes[0]):
        total = fakes[0].new_zeros((), dtype=torch.float32)
        for f in fakes:
            f = f.float()
            total = total + (-f.mean() if mode == "hinge" else 0.5 * (f - 1.0).square().mean())
        return total / len(fakes)


def l1_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean absolute error, in float32."""
    with _no_autocast(fake):
        return F.l1_loss(fake.float(), real.float())


def lowpass_l1_loss(fake: torch.Tensor, real: torch.Tensor, pool: int = 1) -> torch.Tensor:
    """L1 between the images average-pooled by ``pool`` (1: plain L1), in float32. Pooled, it ties
    each region's intensity to the real one (tissue HU stays true) but leaves texture finer than
    ``pool`` pixels to the adversarial and feature-matching terms: pixel-wise L1 against one real
    image pulls the generator towards the mean over all textures that image could have, a blur."""
    with _no_autocast(fake):
        f, r = fake.float(), real.float()
        if pool > 1:
            f, r = F.avg_pool2d(f, pool, ceil_mode=True), F.avg_pool2d(r, pool, ceil_mode=True)
        return F.l1_loss(f, r)


def label_mean_loss(fake: torch.Tensor, real: torch.Tensor, onehot: torch.Tensor, min_pixels: int = 16) -> torch.Tensor:
    """Mean over (image, label) pairs of |mean of fake - mean of real| inside the label (labels with
    at least ``min_pixels`` pixels in the image), in float32. It pins each tissue's intensity (its
    HU) however thin the tissue is (a pooled L1 mixes a thin tissue with its neighbours), and says
    nothing about texture or structure inside it."""
    with _no_autocast(fake):
        w = onehot.float()
        count = w.sum(dim=(2, 3))
        f = (fake.float() * w).sum(dim=(2, 3)) / count.clamp_min(1)
        r = (real.float() * w).sum(dim=(2, 3)) / count.clamp_min(1)
        keep = count >= min_pixels
        if not bool(keep.any()):
            return fake.new_zeros((), dtype=torch.float32)
        return (f - r).abs()[keep].mean()


def diversity_loss(
    fake_a: torch.Tensor,
    fake_b: torch.Tensor,
    z_a: torch.Tensor | None,
    z_b: torch.Tensor | None,
    target: float = 0.05,
    margin: int = 0,
    pool: int = 1,
) -> torch.Tensor:
    """The diversity-sensitive term (DSGAN, Yang et al. 2019), bounded:
    ``relu(target - r) / target`` with ``r = mean|G(z_a) - G(z_b)| / mean|z_a - z_b|``, the image
    change per unit of style change for one label map (two noise draws too). 1 when the two
    images are identical (the style and noise are ignored), 0 once ``r`` reaches ``target``:
    it asks for variety up to a point and no further, so it cannot push intensities off. ``margin``
    pixels at each border are left out (the two images may come from crops of different extent,
    which differ there anyway). With ``pool`` the images are average-pooled first: new noise alone
    then cannot meet the target, the style must change structure at that scale or coarser.
    Without style codes the image difference alone."""
    with _no_autocast(fake_a):
        a, b = fake_a.float(), fake_b.float()
        if margin and min(a.shape[-2:]) > 4 * margin:
            a = a[..., margin:-margin, margin:-margin]
            b = b[..., margin:-margin, margin:-margin]
        if pool > 1:
            a, b = F.avg_pool2d(a, pool, ceil_mode=True), F.avg_pool2d(b, pool, ceil_mode=True)
        ratio = (a - b).abs().mean()
        if z_a is not None and z_b is not None:
            ratio = ratio / (z_a.float() - z_b.float()).abs().mean().clamp_min(1e-3)
        return F.relu(target - ratio) / target


def feature_matching_loss(
    fake_features: Sequence[Sequence[torch.Tensor]], real_features: Sequence[Sequence[torch.Tensor]]
) -> torch.Tensor:
    """L1 between the discriminator's intermediate features of fake and real inputs (the final
    logits excluded), averaged over layers and scales; real features are detached."""
    if len(fake_features) != len(real_features):
        raise ValueError(f"fake has {len(fake_features)} scales, real has {len(real_features)}")
    terms = []
    first = fake_features[0][0]
    with _no_autocast(first):
        for fs, rs in zip(fake_features, real_features, strict=True):
            if len(fs) != len(rs):
                raise ValueError(f"fake has {len(fs)} features at a scale, real has {len(rs)}")
            pairs = list(zip(fs[:-1], rs[:-1], strict=True))
            if not pairs:
                continue
            scale = sum(F.l1_loss(f.float(), r.detach().float()) for f, r in pairs)
            terms.append(scale / len(pairs))
        if not terms:
            return first.new_zeros((), dtype=torch.float32)
        return torch.stack(terms).mean()


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over the style dimensions, averaged over the batch."""
    with _no_autocast(mu):
        mu, logvar = mu.float(), logvar.float()
        kl = -0.5 * (1.0 + logvar - mu.square() - logvar.exp())
        return kl.sum(dim=1).mean() if kl.dim() > 1 else kl.sum()
