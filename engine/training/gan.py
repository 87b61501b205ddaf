"""The GAN: generator (+ style encoder), multi-scale discriminator, optimisers, and one training
step (a discriminator update then a generator update), with mixed precision on CUDA."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from engine.models.config import ModelConfig
from engine.models.context import centre_label
from engine.models.factory import build_discriminator, build_generator, build_style_encoder
from engine.models.style import reparameterize
from engine.training.ema import EMA
from engine.training.losses import (
    d_adversarial_loss,
    feature_matching_loss,
    g_adversarial_loss,
    kl_divergence,
    l1_loss,
)


class NonFiniteLoss(RuntimeError):
    def __init__(self, values: dict[str, float]) -> None:
        super().__init__(", ".join(f"{k}={v}" for k, v in values.items()))
        self.values = values


class StyledGenerator(nn.Module):
    """Generator plus its style encoder, one module (one DDP wrapper, one optimiser)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.generator = build_generator(cfg)
        self.encoder = build_style_encoder(cfg)

    def forward(self, label_ctx: torch.Tensor, real: torch.Tensor | None = None):
        mu = logvar = z = None
        if self.encoder is not None and real is not None:
            mu, logvar = self.encoder(real)
            z = reparameterize(mu, logvar)
        return self.generator(label_ctx, z), mu, logvar


@dataclass
class StepSettings:
    gan_mode: str = "hinge"
    lambda_l1: float = 10.0
    lambda_fm: float = 10.0
    lambda_kl: float = 0.05
    precision: str = "fp32"  # fp32 | bf16 | fp16
    channels_last: bool = False


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
        label_ctx, real = self._prepare(label_ctx), self._prepare(real)
        centre = centre_label(label_ctx, self.cfg.num_classes, self.cfg.context_slices)
        self.gen_ddp.train()
        self.disc_ddp.train()
        with self._autocast():
            fake, mu, logvar = self.gen_ddp(label_ctx, real)
            # discriminator: real and fake in one forward pass
            d_out = self.disc_ddp(torch.cat([centre, centre]), torch.cat([real, fake.detach()]))
            d_real = [[f[: len(real)] for f in scale] for scale in d_out]
            d_fake = [[f[len(real):] for f in scale] for scale in d_out]
            loss_d = d_adversarial_loss(d_real, d_fake, s.gan_mode)
        self._check_finite({"loss_d": loss_d})
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler.scale(loss_d).backward()
        self.scaler.step(self.opt_d)

        no_sync = getattr(self.disc_ddp, "no_sync", contextlib.nullcontext)
        with no_sync():  # the generator step's gradients on D are thrown away: do not all-reduce them
            with self._autocast():
                g_fake = self.disc_ddp(centre, fake)
                real_feats = [[f.detach() for f in scale] for scale in d_real]
                loss_adv = g_adversarial_loss(g_fake, s.gan_mode)
                loss_fm = feature_matching_loss(g_fake, real_feats)
                loss_l1 = l1_loss(fake, real)
                loss_kl = kl_divergence(mu, logvar) if mu is not None else loss_l1.new_zeros(())
                loss_g = loss_adv + s.lambda_fm * loss_fm + s.lambda_l1 * loss_l1 + s.lambda_kl * loss_kl
            values = torch.stack([loss_g.detach(), loss_d.detach(), loss_adv.detach(), loss_fm.detach(),
                                  loss_l1.detach(), loss_kl.detach()]).float().tolist()
            names = ("loss_g", "loss_d", "loss_adv", "loss_fm", "loss_l1", "loss_kl")
            out = dict(zip(names, values))
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
