"""Generator, discriminator, style encoder, factory and ModelConfig (CPU, small configs, fast)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from engine.models import (
    ModelConfig,
    build_discriminator,
    build_generator,
    build_style_encoder,
    centre_label,
    count_parameters,
    describe_incompatibility,
    generator_depth,
    model_signature,
    one_hot_context,
    preset,
    reparameterize,
    sample_style,
)
from engine.training.losses import (
    d_adversarial_loss,
    feature_matching_loss,
    g_adversarial_loss,
    kl_divergence,
    l1_loss,
)
from tests.engine.model_helpers import (
    ARCHS,
    random_context,
    tiny,
    torch_threads,  # noqa: F401 (an autouse fixture)
)


# ---- generator shapes ------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("size", [64, 128, 256])
@pytest.mark.parametrize("k", [0, 2])
def test_generator_output_shape_and_range(arch, size, k):
    cfg = tiny(arch=arch, image_size=size, context_slices=k)
    assert cfg.in_channels == cfg.num_classes * (2 * k + 1)
    gen = build_generator(cfg).eval()
    x = random_context(cfg, 2, size) * 50.0  # far outside one-hot: tanh must still bound it
    with torch.no_grad():
        y = gen(x, sample_style(2, cfg.style_dim))
    assert y.shape == (2, 1, size, size)
    assert torch.isfinite(y).all()
    assert y.min() >= -1.0 and y.max() <= 1.0


@pytest.mark.parametrize("arch", ARCHS)
def test_generator_takes_non_square_slices(arch):
    cfg = tiny(arch=arch, image_size=128)
    assert cfg.size_multiple == 16
    gen = build_generator(cfg).eval()
    with torch.no_grad():
        y = gen(random_context(cfg, 1, 128, 96))
    assert y.shape == (1, 1, 128, 96)


def test_generator_refuses_wrong_input_with_a_clear_message():
    cfg = tiny()
    gen = build_generator(cfg)
    with pytest.raises(ValueError, match="multiple of 8"):
        gen(random_context(cfg, 1, 64, 60))
    with pytest.raises(ValueError, match=r"\(batch, 9, H, W\)"):
        gen(torch.zeros(1, 4, 64, 64))
    with pytest.raises(ValueError, match="z must have shape"):
        gen(random_context(cfg, 1, 64), torch.zeros(1, 7))


def test_quick_preset_builds_and_runs_at_its_size():
    cfg = preset("quick", num_classes=4)
    gen = build_generator(cfg).eval()
    with torch.no_grad():
        y = gen(random_context(cfg, 1, 128), sample_style(1, cfg.style_dim))
    assert y.shape == (1, 1, 128, 128)
    assert cfg.depth == 4


def test_depth_follows_image_size():
    assert [generator_depth(s) for s in (64, 80, 96, 128, 256, 512)] == [3, 4, 4, 4, 5, 6]
    for s in range(64, 513, 16):
        side = s / 2 ** generator_depth(s)
        assert side == int(side) and side >= 4, s
        assert side <= 8 or side % 2 == 1, s  # only an odd factor stops the halving early
    assert generator_depth(176) == 4  # 11x11


# ---- style -----------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_style_changes_the_image_and_same_style_gives_the_same_image(arch):
    torch.manual_seed(0)
    cfg = tiny(arch=arch)
    gen = build_generator(cfg).eval()
    x = random_context(cfg, 1, 64)
    z1, z2 = sample_style(1, cfg.style_dim), sample_style(1, cfg.style_dim)
    with torch.no_grad():
        a, a_again, b = gen(x, z1), gen(x, z1), gen(x, z2)
        mean_style = gen(x)
        zero_style = gen(x, torch.zeros(1, cfg.style_dim))
    assert torch.equal(a, a_again)
    assert (a - b).abs().max() > 1e-3
    assert torch.equal(mean_style, zero_style)


def test_one_style_per_volume_broadcasts_over_slices():
    cfg = tiny()
    gen = build_generator(cfg).eval()
    x = random_context(cfg, 3, 64)
    z = sample_style(1, cfg.style_dim)
    with torch.no_grad():
        assert torch.allclose(gen(x, z), gen(x, z.expand(3, -1)))


def test_style_encoder_and_reparameterisation():
    cfg = tiny()
    enc = build_style_encoder(cfg)
    mu, logvar = enc(torch.rand(2, 1, 64, 64) * 2 - 1)
    assert mu.shape == logvar.shape == (2, cfg.style_dim)
    z = reparameterize(mu, logvar)
    assert z.shape == (2, cfg.style_dim)
    assert torch.isfinite(reparameterize(mu, torch.full_like(logvar, 1e4))).all()
    assert build_style_encoder(tiny(style_dim=0)) is None
    with pytest.raises(ValueError, match="no style input"):
        build_generator(tiny(style_dim=0))(random_context(tiny(style_dim=0), 1, 64), torch.zeros(1, 4))


# ---- gradients -------------------------------------------------------------------------------
def _assert_every_parameter_has_gradient(module: nn.Module, what: str) -> None:
    missing = [n for n, p in module.named_parameters() if p.grad is None]
    zero = [n for n, p in module.named_parameters() if p.grad is not None and not p.grad.abs().sum() > 0]
    assert not missing, f"{what}: no gradient for {missing}"
    assert not zero, f"{what}: all-zero gradient for {zero}"


@pytest.mark.parametrize("arch", ARCHS)
def test_gradients_reach_every_generator_encoder_and_discriminator_parameter(arch):
    torch.manual_seed(0)
    cfg = tiny(arch=arch, dropout=0.5 if arch == "pix2pix_unet" else 0.0)
    gen, disc, enc = build_generator(cfg), build_discriminator(cfg), build_style_encoder(cfg)
    x = random_context(cfg, 2, 64)
    real = torch.rand(2, 1, 64, 64) * 2 - 1
    mu, logvar = enc(real)
    fake = gen(x, reparameterize(mu, logvar))
    lab = centre_label(x, cfg.num_classes, cfg.context_slices)
    d_fake, d_real = disc(lab, fake), disc(lab, real)
    g_loss = (
        g_adversarial_loss(d_fake)
        + feature_matching_loss(d_fake, d_real)
        + l1_loss(fake, real)
        + kl_divergence(mu, logvar)
    )
    g_loss.backward(inputs=[*gen.parameters(), *enc.parameters()])
    _assert_every_parameter_has_gradient(gen, "generator")
    _assert_every_parameter_has_gradient(enc, "style encoder")
    # LSGAN here: with hinge at init every logit is inside the margin, so the final bias gets
    # exactly +1 - 1 = 0 gradient (correct, but it would hide a genuinely unused parameter).
    d_loss = d_adversarial_loss(disc(lab, real), disc(lab, fake.detach()), mode="lsgan")
    d_loss.backward(inputs=list(disc.parameters()))
    _assert_every_parameter_has_gradient(disc, "discriminator")


def test_ddp_with_find_unused_parameters_off(tmp_path):
    """The generator + style encoder train under DDP without ``find_unused_parameters``."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    cfg = tiny()
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:

        class GenWithStyle(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.gen, self.enc = build_generator(cfg), build_style_encoder(cfg)

            def forward(self, x, real):
                mu, logvar = self.enc(real)
                return self.gen(x, reparameterize(mu, logvar)), mu, logvar

        model = DDP(GenWithStyle(), find_unused_parameters=False)
        disc = DDP(build_discriminator(cfg), find_unused_parameters=False)
        x, real = random_context(cfg, 2, 64), torch.rand(2, 1, 64, 64)
        lab = centre_label(x, cfg.num_classes, cfg.context_slices)
        for _ in range(3):  # an unused parameter fails on the iteration after it was missed
            fake, mu, logvar = model(x, real)
            (l1_loss(fake, real) + kl_divergence(mu, logvar)).backward()
            d_adversarial_loss(disc(lab, real), disc(lab, fake.detach())).backward()
    finally:
        dist.destroy_process_group()


# ---- discriminator ---------------------------------------------------------------------------
@pytest.mark.parametrize("scales", [1, 2, 3])
def test_discriminator_returns_features_per_scale_with_logits_last(scales):
    cfg = tiny(image_size=128, d_scales=scales, d_layers=3)
    disc = build_discriminator(cfg)
    out = disc(torch.rand(2, cfg.num_classes, 128, 96), torch.rand(2, 1, 128, 96))
    assert out[0][-1].shape[-2:] == (14, 10)  # a map of patch scores, not one score
    assert isinstance(out, list) and len(out) == scales
    for s, feats in enumerate(out):
        assert isinstance(feats, list) and len(feats) == cfg.d_layers + 2
        assert feats[0].shape == (2, cfg.d_base_channels, 64 // 2**s, 48 // 2**s)
        logits = feats[-1]
        assert logits.dim() == 4 and logits.shape[:2] == (2, 1)
    with pytest.raises(ValueError, match="centre slice"):
        disc(torch.rand(2, cfg.in_channels, 128, 128), torch.rand(2, 1, 128, 128))


def test_spectral_norm_is_applied_when_configured():
    def convs(d):
        return [m for m in d.modules() if isinstance(m, nn.Conv2d)]

    with_sn = build_discriminator(tiny(spectral_norm=True))
    assert convs(with_sn) and all(parametrize.is_parametrized(c, "weight") for c in convs(with_sn))
    assert not any(isinstance(m, (nn.GroupNorm, nn.InstanceNorm2d)) for m in with_sn.modules())
    without = build_discriminator(tiny(spectral_norm=False))
    assert not any(parametrize.is_parametrized(c) for c in convs(without))
    assert any(isinstance(m, nn.GroupNorm) for m in without.modules())

    # the effective weights have spectral norm ~1 once the power iteration has run a little
    x, img = torch.rand(1, 3, 64, 64), torch.rand(1, 1, 64, 64)
    for _ in range(10):
        with_sn(x, img)
    for c in convs(with_sn):
        sigma = torch.linalg.matrix_norm(c.weight.detach().flatten(1), ord=2)
        assert abs(sigma.item() - 1.0) < 0.05


def test_state_dicts_round_trip_through_weights_only_load(tmp_path):
    cfg = tiny()
    gen, disc, enc = build_generator(cfg).eval(), build_discriminator(cfg).eval(), build_style_encoder(cfg)
    path = tmp_path / "ckpt.pt"
    torch.save(
        {"g": gen.state_dict(), "d": disc.state_dict(), "e": enc.state_dict(), "sig": model_signature(cfg)},
        path,
    )
    ckpt = torch.load(path, weights_only=True)
    assert describe_incompatibility(ckpt["sig"], cfg) == []
    gen2, disc2, enc2 = build_generator(cfg).eval(), build_discriminator(cfg).eval(), build_style_encoder(cfg)
    gen2.load_state_dict(ckpt["g"])
    disc2.load_state_dict(ckpt["d"])
    enc2.load_state_dict(ckpt["e"])
    x, img, z = random_context(cfg, 1, 64), torch.rand(1, 1, 64, 64), sample_style(1, cfg.style_dim)
    with torch.no_grad():
        assert torch.equal(gen(x, z), gen2(x, z))
        assert torch.equal(disc(x[:, 3:6], img)[0][-1], disc2(x[:, 3:6], img)[0][-1])


# ---- channels_last, bf16 ---------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_channels_last_and_bf16_autocast_forward_backward(arch):
    torch.manual_seed(0)
    cfg = tiny(arch=arch)
    mods = [build_generator(cfg), build_discriminator(cfg), build_style_encoder(cfg)]
    gen, disc, enc = (m.to(memory_format=torch.channels_last) for m in mods)
    x = random_context(cfg, 2, 64).contiguous(memory_format=torch.channels_last)
    real = (torch.rand(2, 1, 64, 64) * 2 - 1).contiguous(memory_format=torch.channels_last)
    lab = centre_label(x, cfg.num_classes, cfg.context_slices)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mu, logvar = enc(real)
        fake = gen(x, reparameterize(mu, logvar))
        d_fake, d_real = disc(lab, fake), disc(lab, real)
        loss = (
            g_adversarial_loss(d_fake)
            + feature_matching_loss(d_fake, d_real)
            + l1_loss(fake, real)
            + kl_divergence(mu, logvar)
        )
    assert fake.dtype == torch.bfloat16 and fake.shape == (2, 1, 64, 64)
    assert d_fake[0][0].is_contiguous(memory_format=torch.channels_last)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    for m in (gen, disc, enc):
        for name, p in m.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name


# ---- learning --------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_generator_overfits_a_fixed_label_map(arch):
    torch.manual_seed(0)
    cfg = ModelConfig(
        arch=arch, num_classes=2, context_slices=0, image_size=64, base_channels=16, max_channels=64,
        spade_hidden=16, style_dim=0,
    )  # fmt: skip
    gen = build_generator(cfg)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    disc = (xx**2 + yy**2) < 0.4
    label = one_hot_context(disc.long()[None, None], 2)
    target = torch.where(disc, 0.4 + 0.3 * torch.sin(6 * xx), -0.8 + 0.1 * yy)[None, None]
    opt = torch.optim.Adam(gen.parameters(), lr=2e-3, betas=(0.5, 0.999))
    losses = []
    for _ in range(100):
        loss = l1_loss(gen(label), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = losses[0], sum(losses[-5:]) / 5
    assert last < first / 10, f"L1 went from {first:.3f} to {last:.3f}"
    assert last < 0.06


# ---- context layout --------------------------------------------------------------------------
def test_context_layout_is_slice_major_with_the_centre_in_the_middle():
    labels = torch.tensor([0, 1, 2, 1, 0]).view(1, 5, 1, 1).expand(1, 5, 2, 2)  # k = 2
    ctx = one_hot_context(labels, 3)
    assert ctx.shape == (1, 15, 2, 2)
    centre = centre_label(ctx, 3, 2)
    assert torch.equal(centre[0, :, 0, 0], torch.tensor([0.0, 0.0, 1.0]))
    assert torch.equal(ctx[0, 3:6, 0, 0], torch.tensor([0.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="expected 15"):
        centre_label(ctx[:, :12], 3, 2)


# ---- the benchmark baseline ------------------------------------------------------------------
def test_reference_pix2pix_step_and_generate():
    from benchmarks.reference_pix2pix import ReferenceTrainer, build_reference

    models = build_reference(in_channels=6, base=8, image_size=64)
    assert count_parameters(models.generator) > 0 and count_parameters(models.discriminator) > 0
    torch.manual_seed(0)
    trainer = ReferenceTrainer(in_channels=6, base=8, image_size=64, d_base=8)
    x = one_hot_context(torch.randint(0, 2, (2, 3, 64, 64)), 2)
    losses = trainer.step(x, torch.rand(2, 1, 64, 64) * 2 - 1)
    assert set(losses) == {"d_real", "d_fake", "d", "g_gan", "g_l1", "g"}
    assert all(isinstance(v, float) and v == v for v in losses.values())
    out = trainer.generate(x)
    assert out.shape == (2, 1, 64, 64) and out.abs().max() <= 1.0
    with pytest.raises(ValueError, match="power-of-two"):
        build_reference(6, image_size=96)
