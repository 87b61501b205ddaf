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


def label_distribution_loss(
    fake: torch.Tensor, real: torch.Tensor, onehot: torch.Tensor, min_pixels: int = 16, pool: int = 1
) -> torch.Tensor:
    """Mean over (image, label) pairs of the 1-D Wasserstein distance between the intensities of
    fake and real inside the label (labels with at least ``min_pixels`` pixels), in float32.

    Both images share the label map, so each label holds as many fake as real pixels: sorting
    both and comparing rank by rank gives the distance exactly. It pins each tissue's whole
    intensity distribution - median, spread, the bright tail of bone - not only its mean (it is
    at least the mean term of :func:`label_mean_loss`), and says nothing about where in the
    tissue each value lies: texture and structure stay free, but a tissue rendered too smooth
    (too narrow a distribution) or with bone clipped is penalised.

    With ``pool`` the images are average-pooled first and only pooled pixels wholly inside a label
    count: the distribution of regional intensity (structure at ``pool`` pixels and coarser) is
    asked for, and pixel grain is left to the discriminator and the rescan term (pixel for pixel,
    a generator that does not know where the unlabelled structure lies - grey and white matter
    in "brain" - would otherwise imitate its spread with noise)."""
    with _no_autocast(fake):
        if pool > 1:
            fake, real = F.avg_pool2d(fake.float(), pool), F.avg_pool2d(real.float(), pool)
            onehot = (F.avg_pool2d(onehot.float(), pool) > 0.999).float()
        b, c = onehot.shape[:2]
        inside = onehot.float().reshape(b, c, -1) > 0.5
        count = inside.sum(dim=2)
        keep = count >= min_pixels
        if not bool(keep.any()):
            return fake.new_zeros((), dtype=torch.float32)
        big = torch.finfo(torch.float32).max
        f = fake.float().reshape(b, 1, -1).expand(-1, c, -1)
        r = real.float().reshape(b, 1, -1).expand(-1, c, -1)
        # pixels outside the label sort last; the first ``count`` ranks are the label's own
        f_sorted = torch.where(inside, f, big).sort(dim=2).values
        r_sorted = torch.where(inside, r, big).sort(dim=2).values
        ranks = torch.arange(inside.shape[2], device=fake.device)[None, None, :] < count[..., None]
        diff = torch.where(ranks, (f_sorted - r_sorted).abs(), 0.0).sum(dim=2) / count.clamp_min(1)
        return diff[keep].mean()


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


# Two scans of the same anatomy differ pixel for pixel by their noise: for white noise of std s,
# mean |n1 - n2| = 1.13 s while the median |x - mean3x3(x)| = 0.64 s, so the expected difference is
# 1.75 x the median 3x3 high-pass of one scan (less for correlated noise: a lower bound).
RESCAN_PER_HIGHPASS = 1.75


def rescan_difference(real: torch.Tensor, onehot: torch.Tensor, min_pixels: int = 64) -> torch.Tensor:
    """What two scans of ``real`` would differ by, pixel for pixel, in each foreground label of
    ``onehot`` ``(B, C, H, W)``: ``RESCAN_PER_HIGHPASS`` x the median |3x3 high-pass| there, in
    float32, shape ``(C,)``; 0 for the background (label 0), for labels with fewer than
    ``min_pixels`` pixels and for labels without texture. Per label: the grain of soft tissue is
    asked of soft tissue, not met by the larger spread of bone next to it."""
    with _no_autocast(real):
        r = real.float()
        hp = (r - F.avg_pool2d(r, 3, stride=1, padding=1, count_include_pad=False)).abs()[:, 0]
        inside = onehot.float() > 0.5
        targets = torch.zeros(onehot.shape[1], device=real.device)
        for c in range(1, onehot.shape[1]):
            values = hp[inside[:, c]]
            if values.numel() >= min_pixels:
                targets[c] = RESCAN_PER_HIGHPASS * values.median()
        return targets


def rescan_loss(fake_a: torch.Tensor, fake_b: torch.Tensor, onehot: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The rescan term: two draws (other noise, other style) for one label map should differ in
    each tissue, pixel for pixel, by at least what two scans of the scanner differ by there
    (``targets``, from :func:`rescan_difference` of the real image): the mean over labels with a
    target of ``relu(target - mean|a - b|) / target``. 1 when the draws are identical, 0 from the
    targets on; bounded, so it asks for the scanner's grain and no more (the discriminator still
    judges what the grain looks like)."""
    with _no_autocast(fake_a):
        diff = (fake_a.float() - fake_b.float()).abs()[:, 0]
        inside = onehot.float() > 0.5
        terms = []
        for c in range(onehot.shape[1]):
            target = targets[c]
            if float(target) > 0:
                terms.append(F.relu(target - diff[inside[:, c]].mean()) / target)
        if not terms:
            return fake_a.new_zeros((), dtype=torch.float32)
        return torch.stack(terms).mean()


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
