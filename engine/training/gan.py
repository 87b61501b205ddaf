"""The GAN: generator (+ style encoder), multi-scale discriminator, optimisers, and one training
step (a discriminator update then a generator update), with mixed precision on CUDA.

A batch is ``B`` stacks of ``S = d_slices`` consecutive slices (label ``(B, S, C', H, W)``, image
``(B, S, 1, H, W)``; 4-D tensors are stacks of one). One style code per stack, from the style
encoder (the reconstruction branch: low-pass L1, feature matching, KL). With ``lambda_div > 0`` or
``lambda_rescan > 0`` a prior branch makes two draws A and B on a centred sub-crop, each with its
own style from N(0, I) as two seeds at generation have (the discriminator judges A). The
diversity-sensitive term (DSGAN, Yang et al. 2019) asks A and B to differ in structure (pooled)
per unit of style change, so the style code is not ignored; with ``lambda_rescan > 0`` B also
draws its own noise, and the rescan term asks A and B to differ pixel for pixel by at least what
two scans of the scanner differ by (from the real image's fine texture), so the noise injection
carries the scanner's grain; the discriminator judges what the grain looks like. Comparing two
prior draws, not the prior against the encoder's code, measures what generation does: an encoder
code far from the prior would meet both terms without any variety between seeds.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from engine.models.config import ModelConfig
from engine.models.context import centre_label
from engine.models.factory import build_discriminator, build_generator, build_style_encoder
from engine.models.generator import make_noise
from engine.models.style import reparameterize
from engine.training.ema import EMA
from engine.training.losses import (
    LAMBDA_FM,
    LAMBDA_KL,
    LAMBDA_L1,
    d_adversarial_loss,
    diversity_loss,
    feature_matching_loss,
    g_adversarial_loss,
    kl_divergence,
    label_distribution_loss,
    label_mean_loss,
    lowpass_l1_loss,
    rescan_difference,
    rescan_loss,
)

LOSS_NAMES = ("loss_g", "loss_d", "loss_adv", "loss_fm", "loss_l1", "loss_kl", "loss_div", "loss_mean", "loss_rescan", "loss_hist")


class NonFiniteLoss(RuntimeError):
    def __init__(self, values: dict[str, float]) -> None:
        super().__init__(", ".join(f"{k}={v}" for k, v in values.items()))
        self.values = values


class StyledGenerator(nn.Module):
    """Generator plus its style encoder, one module (one DDP wrapper, one optimiser).

    ``forward(label_ctx, real, stack, prior)``: the reconstruction branch with one style code per
    stack of ``stack`` consecutive slices encoded from the real slices, and (``prior``: a (y, x,
    h, w) region of the crop) the prior branch on that region: draws A and B, each with z ~ N(0, I),
    with the same noise, or (``prior_noise``) B with its own."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.generator = build_generator(cfg)
        self.encoder = build_style_encoder(cfg)

    def forward(self, label_ctx: torch.Tensor, real: torch.Tensor | None = None, stack: int = 1,
                prior: tuple[int, int, int, int] | None = None, prior_noise: bool = False):
        mu = logvar = z = None
        if self.encoder is not None and real is not None:
            mu, logvar = self.encoder(real)
            d = mu.shape[1]
            mu, logvar = mu.view(-1, stack, d).mean(1), logvar.view(-1, stack, d).mean(1)
            z = reparameterize(mu, logvar).repeat_interleave(stack, dim=0)
        levels = getattr(self.generator, "noise_levels", 0)
        noise = make_noise(label_ctx, levels) if levels else None
        fake = self.generator(label_ctx, z, noise)
        fake_p = z_p = None
        if prior is not None:
            y, x, h, w = prior
            region = label_ctx[..., y : y + h, x : x + w]
            if self.encoder is not None:
                z_p = torch.randn((2 * label_ctx.shape[0] // stack, self.encoder.style_dim), device=label_ctx.device,
                                  dtype=mu.dtype).repeat_interleave(stack, dim=0)
            # A and B share the noise (the region's part of it) unless prior_noise: then they differ
            # as two seeds do, in style and noise
            part = None if noise is None else noise[..., y : y + h, x : x + w]
            if part is not None:
                part = torch.cat([part, torch.randn_like(part) if prior_noise else part])
            fake_p = self.generator(torch.cat([region, region]), z_p, part)
        return fake, mu, logvar, z, fake_p, z_p


@dataclass
class StepSettings:
    gan_mode: str = "hinge"
    lambda_l1: float = LAMBDA_L1
    lambda_fm: float = LAMBDA_FM
    lambda_kl: float = LAMBDA_KL
    precision: str = "fp32"  # fp32 | bf16 | fp16
    channels_last: bool = False
    l1_pool: int = 1  # the L1 term compares images average-pooled by this (1: pixel by pixel)
    lambda_div: float = 0.0  # diversity term of the prior branch (0: no prior branch)
    # change of the l1_pool-pooled image per unit of style change asked for, in normalised units
    # over the crop, between the two prior draws (noise counts little after pooling)
    div_target: float = 0.01
    lambda_mean: float = 0.0  # per-label mean intensity term, both branches (tissue HU stays true)
    prior_crop: float = 0.5  # the prior branch's sub-crop side, as a fraction of the crop
    lambda_rescan: float = 0.0  # rescan term: prior draw B has its own noise too (0: off)
    lambda_hist: float = 0.0  # per-label intensity distribution term (1-D Wasserstein), every branch


def step_settings_for(cfg, precision: str, channels_last: bool) -> StepSettings:
    """The step's settings from a resolved TrainingConfig (the one place they are read from it)."""
    return StepSettings(cfg.gan_mode, cfg.lambda_l1, cfg.lambda_fm, cfg.lambda_kl, precision, channels_last,
                        l1_pool=cfg.l1_pool, lambda_div=cfg.lambda_div, lambda_mean=cfg.lambda_mean,
                        lambda_rescan=cfg.lambda_rescan, lambda_hist=cfg.lambda_hist)


def _stacks(t: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(B, S, C, H, W) -> (B*S, C, H, W) and S; 4-D tensors are stacks of one."""
    if t.dim() == 5:
        return t.reshape(-1, *t.shape[2:]), t.shape[1]
    return t, 1


def prior_region(height: int, width: int, fraction: float, multiple: int, minimum: int = 1) -> tuple[int, int, int, int]:
    """A centred (y, x, h, w) sub-crop, its sides multiples of ``multiple`` (and origin too), at
    least ``minimum`` (the smallest image the discriminator takes) unless the crop is smaller."""
    least = -(-max(minimum, multiple) // multiple) * multiple
    h = min(height, max(least, int(height * fraction) // multiple * multiple))
    w = min(width, max(least, int(width * fraction) // multiple * multiple))
    y = (height - h) // 2 // multiple * multiple
    x = (width - w) // 2 // multiple * multiple
    return y, x, h, w


def _as_stacks(t: torch.Tensor, s: int) -> torch.Tensor:
    """(B*S, C, H, W) -> (B, S*C, H, W): what the discriminator reads."""
    return t.reshape(-1, s * t.shape[1], *t.shape[2:])


class GanTrainer:
    """Owns the models and optimisers; ``step`` runs one iteration and returns the losses."""

    def __init__(self, cfg: ModelConfig, settings: StepSettings, device: torch.device,
                 lr_g: float, lr_d: float, betas: tuple[float, float], ema_decay: float) -> None:
        self.cfg, self.settings, self.device = cfg, settings, device
        self.gen = StyledGenerator(cfg).to(device)
        self.disc = build_discriminator(cfg).to(device)
        if settings.channels_last:
            self.gen = self.gen.to(memory_format=torch.channels_last)
            self.disc = self.disc.to(memory_format=torch.channels_last)
        fused = device.type == "cuda"
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=lr_g, betas=betas, fused=fused)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=lr_d, betas=betas, fused=fused)
        self.base_lr = (lr_g, lr_d)
        self.ema = EMA(self.gen.generator, ema_decay)
        self.scaler = torch.amp.GradScaler("cuda", enabled=settings.precision == "fp16" and device.type == "cuda")
        self.gen_ddp: nn.Module = self.gen
        self.disc_ddp: nn.Module = self.disc

    def wrap_ddp(self, device_ids=None) -> None:
        from torch.nn.parallel import DistributedDataParallel as DDP

        self.gen_ddp = DDP(self.gen, device_ids=device_ids)
        self.disc_ddp = DDP(self.disc, device_ids=device_ids)

    def set_lr_factor(self, factor: float) -> None:
        for opt, base in ((self.opt_g, self.base_lr[0]), (self.opt_d, self.base_lr[1])):
            for group in opt.param_groups:
                group["lr"] = base * factor

    def _autocast(self):
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.settings.precision)
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _prepare(self, t: torch.Tensor) -> torch.Tensor:
        t = t.to(self.device, non_blocking=True)
        return t.contiguous(memory_format=torch.channels_last) if self.settings.channels_last else t

    def step(self, label_ctx: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
        s = self.settings
        label_ctx, stack = _stacks(label_ctx)
        real, _ = _stacks(real)
        label_ctx, real = self._prepare(label_ctx), self._prepare(real)
        if stack != self.cfg.d_slices:
            raise ValueError(f"the batch holds stacks of {stack} slices; this discriminator sees {self.cfg.d_slices}")
        centre = _as_stacks(centre_label(label_ctx, self.cfg.num_classes, self.cfg.context_slices), stack)
        real_d = _as_stacks(real, stack)
        h, w = real.shape[-2:]
        smallest_d = 3 * 2 ** (self.cfg.d_scales - 1 + self.cfg.d_layers)
        with_prior = s.lambda_div > 0 or s.lambda_rescan > 0
        prior = prior_region(h, w, s.prior_crop, self.cfg.size_multiple, smallest_d) if with_prior else None
        self.gen_ddp.train()
        self.disc_ddp.train()
        with self._autocast():
            fake, mu, logvar, z, fake_p, z_p = self.gen_ddp(label_ctx, real, stack, prior, s.lambda_rescan > 0)
            fake_d = _as_stacks(fake, stack)
            # discriminator: real and fake in one forward pass
            d_out = self.disc_ddp(torch.cat([centre, centre]), torch.cat([real_d, fake_d.detach()]))
            d_real = [[f[: len(real_d)] for f in scale] for scale in d_out]
            d_fake = [[f[len(real_d):] for f in scale] for scale in d_out]
            loss_d = d_adversarial_loss(d_real, d_fake, s.gan_mode)
            if prior is not None:
                y, x, ph, pw = prior
                centre_p, real_p = centre[..., y : y + ph, x : x + pw], real_d[..., y : y + ph, x : x + pw]
                fake_a, fake_b = fake_p.chunk(2)
                z_a, z_b = z_p.chunk(2) if z_p is not None else (None, None)
                fake_pd = _as_stacks(fake_a, stack)
                dp = self.disc_ddp(torch.cat([centre_p, centre_p]), torch.cat([real_p, fake_pd.detach()]))
                dp_real = [[f[: len(real_p)] for f in scale] for scale in dp]
                dp_fake = [[f[len(real_p):] for f in scale] for scale in dp]
                loss_d = 0.5 * (loss_d + d_adversarial_loss(dp_real, dp_fake, s.gan_mode))
        self._check_finite({"loss_d": loss_d})
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler.scale(loss_d).backward()
        self.scaler.step(self.opt_d)

        no_sync = getattr(self.disc_ddp, "no_sync", contextlib.nullcontext)
        with no_sync():  # the generator step's gradients on D are thrown away: do not all-reduce them
            with self._autocast():
                g_fake = self.disc_ddp(centre, fake_d)
                real_feats = [[f.detach() for f in scale] for scale in d_real]
                loss_adv = g_adversarial_loss(g_fake, s.gan_mode)
                loss_fm = feature_matching_loss(g_fake, real_feats)
                loss_l1 = lowpass_l1_loss(fake, real, s.l1_pool)
                loss_kl = kl_divergence(mu, logvar) if mu is not None else loss_l1.new_zeros(())
                loss_div = loss_l1.new_zeros(())
                loss_rescan = loss_l1.new_zeros(())
                loss_hist = loss_l1.new_zeros(())
                centre_flat = centre.reshape(-1, self.cfg.num_classes, h, w)
                loss_mean = label_mean_loss(fake, real, centre_flat) if s.lambda_mean else loss_l1.new_zeros(())
                if s.lambda_hist:
                    loss_hist = label_distribution_loss(fake, real, centre_flat, pool=s.l1_pool)
                if prior is not None:
                    loss_adv = 0.5 * (loss_adv + g_adversarial_loss(self.disc_ddp(centre_p, fake_pd), s.gan_mode))
                    # A and B have the same extent: no border to leave out
                    loss_div = diversity_loss(fake_a, fake_b, z_a, z_b, s.div_target, pool=s.l1_pool)
                    hot_p = centre_flat[..., y : y + ph, x : x + pw]
                    real_in = real[..., y : y + ph, x : x + pw]
                    if s.lambda_rescan:
                        loss_rescan = rescan_loss(fake_a, fake_b, hot_p, rescan_difference(real_in, hot_p))
                    if s.lambda_hist:
                        pool = s.l1_pool
                        loss_hist = 0.5 * loss_hist + 0.25 * (label_distribution_loss(fake_a, real_in, hot_p, pool=pool)
                                                              + label_distribution_loss(fake_b, real_in, hot_p, pool=pool))
                    if s.lambda_mean:
                        loss_mean = 0.5 * loss_mean + 0.25 * (label_mean_loss(fake_a, real_in, hot_p)
                                                              + label_mean_loss(fake_b, real_in, hot_p))
                loss_g = (loss_adv + s.lambda_fm * loss_fm + s.lambda_l1 * loss_l1 + s.lambda_kl * loss_kl
                          + s.lambda_div * loss_div + s.lambda_mean * loss_mean + s.lambda_rescan * loss_rescan
                          + s.lambda_hist * loss_hist)
            values = torch.stack([loss_g.detach(), loss_d.detach(), loss_adv.detach(), loss_fm.detach(),
                                  loss_l1.detach(), loss_kl.detach(), loss_div.detach(), loss_mean.detach(),
                                  loss_rescan.detach(), loss_hist.detach()]).float().tolist()
            out = dict(zip(LOSS_NAMES, values))
            self._check_finite(out)
            self.opt_g.zero_grad(set_to_none=True)
            self.scaler.scale(loss_g).backward()
        self.scaler.step(self.opt_g)
        self.scaler.update()
        self.opt_d.zero_grad(set_to_none=True)  # drop D grads from the generator pass
        self.ema.update(self.gen.generator)
        return out

    @staticmethod
    def _check_finite(values) -> None:
        vals = {k: (float(v.detach()) if isinstance(v, torch.Tensor) else float(v)) for k, v in values.items()}
        if any(v != v or v in (float("inf"), float("-inf")) for v in vals.values()):
            raise NonFiniteLoss(vals)

    # state
    def state_dict(self) -> dict:
        return {
            "generator": self.gen.generator.state_dict(),
            "encoder": self.gen.encoder.state_dict() if self.gen.encoder is not None else {},
            "discriminator": self.disc.state_dict(),
            "ema": self.ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.gen.generator.load_state_dict(state["generator"])
        if self.gen.encoder is not None:
            self.gen.encoder.load_state_dict(state["encoder"])
        self.disc.load_state_dict(state["discriminator"])
        self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
