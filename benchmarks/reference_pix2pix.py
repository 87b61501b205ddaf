"""A textbook pix2pix training step (Isola et al. 2017), the baseline SynthVol is measured against.

Written the textbook way on purpose, following the authors' reference implementation
(junyanz/pytorch-CycleGAN-and-pix2pix): recursive U-Net generator with BatchNorm and dropout,
70x70 PatchGAN (3 layers), N(0, 0.02) init, fp32, NCHW, BCEWithLogits GAN loss + 100 * L1, one
Adam(2e-4, betas (0.5, 0.999)) step each for D and G. Not product code: no autocast, no
channels_last, no spectral norm, no multi-scale discriminator, no style input.

    trainer = ReferenceTrainer(in_channels=12, base=32, image_size=128)
    losses = trainer.step(label_ctx, image)   # {"d_real", "d_fake", "d", "g_gan", "g_l1", "g"}
    fake = trainer.generate(label_ctx)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: down, submodule, up, and the skip ``cat([x, model(x)])``."""

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        use_bias = False  # BatchNorm follows every conv that is not outermost
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = nn.BatchNorm2d(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = nn.BatchNorm2d(outer_nc)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            down = [downconv]
            up = [uprelu, upconv, nn.Tanh()]
            model = [*down, submodule, *up]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            down = [downrelu, downconv]
            up = [uprelu, upconv, upnorm]
            model = down + up
        else:
            upconv = nn.ConvTranspose2d(
                inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias
            )
            down = [downrelu, downconv, downnorm]
            up = [uprelu, upconv, upnorm]
            model = [*down, submodule, *up] + ([nn.Dropout(0.5)] if use_dropout else [])
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """pix2pix ``unet_<size>``: ``num_downs`` stride-2 levels, down to 1x1."""

    def __init__(
        self, input_nc: int, output_nc: int, num_downs: int, ngf: int = 64, use_dropout: bool = True
    ):
        super().__init__()
        if num_downs < 5:
            raise ValueError("the textbook U-Net needs at least 5 levels (images of 32 pixels or more)")
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, use_dropout=use_dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block)
        self.model = UnetSkipConnectionBlock(
            output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """The PatchGAN: 70x70 receptive field with ``n_layers=3``."""

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        kw, padw, use_bias = 4, 1, False
        sequence: list[nn.Module] = [
            nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw),
            nn.LeakyReLU(0.2, True),
        ]
        nf_mult = 1
        for n in range(1, n_layers):
            nf_mult_prev, nf_mult = nf_mult, min(2**n, 8)
            sequence += [
                nn.Conv2d(
                    ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=2, padding=padw, bias=use_bias
                ),
                nn.BatchNorm2d(ndf * nf_mult),
                nn.LeakyReLU(0.2, True),
            ]
        nf_mult_prev, nf_mult = nf_mult, min(2**n_layers, 8)
        sequence += [
            nn.Conv2d(
                ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=1, padding=padw, bias=use_bias
            ),
            nn.BatchNorm2d(ndf * nf_mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw),
        ]
        self.model = nn.Sequential(*sequence)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def init_weights(net: nn.Module, gain: float = 0.02) -> None:
    """pix2pix's 'normal' init: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""

    def init_func(m: nn.Module) -> None:
        name = m.__class__.__name__
        if hasattr(m, "weight") and ("Conv" in name or "Linear" in name):
            nn.init.normal_(m.weight.data, 0.0, gain)
            if getattr(m, "bias", None) is not None:
                nn.init.constant_(m.bias.data, 0.0)
        elif "BatchNorm2d" in name:
            nn.init.normal_(m.weight.data, 1.0, gain)
            nn.init.constant_(m.bias.data, 0.0)

    net.apply(init_func)


class ReferenceModels(NamedTuple):
    generator: UnetGenerator
    discriminator: NLayerDiscriminator


def build_reference(
    in_channels: int, base: int = 32, image_size: int = 128, d_base: int = 64
) -> ReferenceModels:
    """Textbook generator (``unet_<image_size>``, ``ngf = base``) and conditional PatchGAN
    (input = label context + image, ``ndf = d_base``), initialised as pix2pix does."""
    num_downs = int(round(math.log2(image_size)))
    if 2**num_downs != image_size:
        raise ValueError(f"the textbook U-Net needs a power-of-two image size, got {image_size}")
    generator = UnetGenerator(in_channels, 1, num_downs, ngf=base, use_dropout=True)
    discriminator = NLayerDiscriminator(in_channels + 1, ndf=d_base, n_layers=3)
    init_weights(generator)
    init_weights(discriminator)
    return ReferenceModels(generator, discriminator)


class ReferenceTrainer:
    """pix2pix's ``optimize_parameters``: D step on (real, fake.detach()), then G step."""

    def __init__(
        self,
        in_channels: int,
        base: int = 32,
        image_size: int = 128,
        d_base: int = 64,
        lambda_l1: float = 100.0,
        lr: float = 2e-4,
        device: torch.device | str = "cpu",
    ) -> None:
        self.device = torch.device(device)
        models = build_reference(in_channels, base, image_size, d_base)
        self.generator = models.generator.to(self.device)
        self.discriminator = models.discriminator.to(self.device)
        self.criterion_gan = nn.BCEWithLogitsLoss()
        self.criterion_l1 = nn.L1Loss()
        self.lambda_l1 = lambda_l1
        self.optimizer_g = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=(0.5, 0.999))
        self.optimizer_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(0.5, 0.999))

    def _gan_loss(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return self.criterion_gan(prediction, target)

    @staticmethod
    def _set_requires_grad(net: nn.Module, requires_grad: bool) -> None:
        for p in net.parameters():
            p.requires_grad = requires_grad

    def step(self, label_ctx: torch.Tensor, image: torch.Tensor) -> dict[str, float]:
        self.generator.train()
        self.discriminator.train()
        real_a = label_ctx.to(self.device)
        real_b = image.to(self.device)
        fake_b = self.generator(real_a)

        # update D
        self._set_requires_grad(self.discriminator, True)
        self.optimizer_d.zero_grad()
        pred_fake = self.discriminator(torch.cat((real_a, fake_b), 1).detach())
        loss_d_fake = self._gan_loss(pred_fake, False)
        pred_real = self.discriminator(torch.cat((real_a, real_b), 1))
        loss_d_real = self._gan_loss(pred_real, True)
        loss_d = (loss_d_fake + loss_d_real) * 0.5
        loss_d.backward()
        self.optimizer_d.step()

        # update G
        self._set_requires_grad(self.discriminator, False)
        self.optimizer_g.zero_grad()
        pred_fake = self.discriminator(torch.cat((real_a, fake_b), 1))
        loss_g_gan = self._gan_loss(pred_fake, True)
        loss_g_l1 = self.criterion_l1(fake_b, real_b) * self.lambda_l1
        loss_g = loss_g_gan + loss_g_l1
        loss_g.backward()
        self.optimizer_g.step()

        return {
            "d_real": loss_d_real.item(),
            "d_fake": loss_d_fake.item(),
            "d": loss_d.item(),
            "g_gan": loss_g_gan.item(),
            "g_l1": loss_g_l1.item(),
            "g": loss_g.item(),
        }

    @torch.no_grad()
    def generate(self, label_ctx: torch.Tensor) -> torch.Tensor:
        """Generator output in eval mode (BatchNorm running statistics, no dropout)."""
        was_training = self.generator.training
        self.generator.eval()
        try:
            return self.generator(label_ctx.to(self.device))
        finally:
            self.generator.train(was_training)
