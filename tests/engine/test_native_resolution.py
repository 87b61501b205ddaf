"""Issue 12: crops at the data's own spacing and whole slices agree (per-pixel norm, aligned noise),
tiled generation, noise injection, the discriminator over neighbouring slices, the training step
with the prior-style branch, and stacks of consecutive slices from the data layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.models import build_discriminator, build_generator, one_hot_context, preset
from engine.models.generator import make_noise
from engine.models.spade import NoiseInjection
from engine.synthesis.synthesizer import run_generator
from engine.training.gan import GanTrainer, StepSettings, prior_region
from engine.training.losses import (
    diversity_loss,
    label_distribution_loss,
    label_mean_loss,
    lowpass_l1_loss,
    rescan_difference,
    rescan_loss,
)
from tests.engine.model_helpers import (
    tiny,
    torch_threads,  # noqa: F401 (an autouse fixture)
)


def _blocky_context(cfg, size: int, seed: int = 0) -> torch.Tensor:
    """Label maps of blobs (8 px cells), as anatomy is, rather than per-pixel noise."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, cfg.num_classes, (1, cfg.slices, size // 8, size // 8), generator=g)
    return one_hot_context(F.interpolate(coarse.float(), scale_factor=8, mode="nearest").long(), cfg.num_classes)


def _with_noise_weights(gen, std: float = 0.5):
    """Noise weights as after training (they start at zero)."""
    g = torch.Generator().manual_seed(3)
    for m in gen.modules():
        if isinstance(m, NoiseInjection):
            m.weight.data = torch.randn(m.weight.shape, generator=g) * std
    return gen


def _crop_vs_whole(norm: str, margin: int) -> float:
    torch.manual_seed(0)
    cfg = tiny(norm=norm)  # depth 3: crops must start at multiples of 8
    gen = _with_noise_weights(build_generator(cfg).eval())
    ctx = _blocky_context(cfg, 192)
    noise = torch.randn(1, cfg.depth + 1, 192, 192)
    z = torch.randn(1, cfg.style_dim)
    o, s = 32, 128
    with torch.no_grad():
        whole = gen(ctx, z, noise)[..., o : o + s, o : o + s]
        crop = gen(ctx[..., o : o + s, o : o + s], z, noise[..., o : o + s, o : o + s])
    return float((crop - whole)[..., margin:-margin, margin:-margin].abs().max())


def test_a_crop_gives_the_same_pixels_as_the_whole_slice_away_from_its_border():
    # per-pixel norm: beyond the receptive field of the crop's border the output is the same
    # (float rounding only); instance norm's statistics depend on the extent and differ everywhere
    assert _crop_vs_whole("pixel", 32) < 1e-5
    assert _crop_vs_whole("instance", 32) > 1e-2


def test_tiles_blend_into_the_whole_slice():
    torch.manual_seed(0)
    cfg = tiny()
    gen = _with_noise_weights(build_generator(cfg).eval())
    ctx = _blocky_context(cfg, 192, seed=1)
    noise = torch.randn(1, cfg.depth + 1, 192, 192)
    z = torch.randn(1, cfg.style_dim)
    with torch.no_grad():
        whole = run_generator(gen, ctx, z, noise, cfg.size_multiple)
        tiled = run_generator(gen, ctx, z, noise, cfg.size_multiple, tile=96)
        other_noise = run_generator(gen, ctx, z, torch.randn_like(noise), cfg.size_multiple)
    assert tiled.shape == whole.shape == (1, 1, 192, 192)
    diff = float((tiled - whole).abs().mean())
    # every tile reads the whole slice's noise at its own place: the tiles differ from the whole
    # slice only by their borders, far less than another noise draw changes the image
    assert diff < 0.1 * float((other_noise - whole).abs().mean())
    assert diff < 5e-3


def test_noise_changes_fine_texture_and_the_same_noise_repeats():
    torch.manual_seed(0)
    cfg = tiny()
    gen = build_generator(cfg).eval()
    ctx = _blocky_context(cfg, 64)
    n1, n2 = torch.randn(1, cfg.depth + 1, 64, 64), torch.randn(1, cfg.depth + 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(gen(ctx, None, n1), gen(ctx, None, n2))  # weights start at zero
        _with_noise_weights(gen)
        a, a_again, b = gen(ctx, None, n1), gen(ctx, None, n1), gen(ctx, None, n2)
    assert torch.equal(a, a_again) and float((a - b).abs().mean()) > 1e-3
    with pytest.raises(ValueError, match="noise must have shape"):
        gen(ctx, None, torch.randn(1, 2, 64, 64))
    # pix2pix has no noise inputs and ignores it
    p2p = build_generator(tiny(arch="pix2pix_unet")).eval()
    with torch.no_grad():
        assert torch.allclose(p2p(ctx, None, n1), p2p(ctx, None, n2), atol=1e-6)


def test_discriminator_sees_stacks_of_neighbouring_slices():
    cfg = tiny(d_slices=2)
    disc = build_discriminator(cfg)
    out = disc(torch.rand(3, 2 * cfg.num_classes, 64, 64), torch.rand(3, 2, 64, 64))
    assert out[0][0].shape[:2] == (3, cfg.d_base_channels)
    with pytest.raises(ValueError, match="for each of 2 consecutive slices"):
        disc(torch.rand(3, cfg.num_classes, 64, 64), torch.rand(3, 1, 64, 64))
    with pytest.raises(ValueError, match="2 image channel"):
        disc(torch.rand(3, 2 * cfg.num_classes, 64, 64), torch.rand(3, 1, 64, 64))


def test_training_step_on_stacks_with_the_prior_branch_moves_the_noise_weights():
    torch.manual_seed(0)
    cfg = tiny(d_slices=2, d_layers=2)
    settings = StepSettings(l1_pool=4, lambda_div=1.0, lambda_mean=10.0)
    gan = GanTrainer(cfg, settings, torch.device("cpu"), 1e-3, 1e-3, (0.0, 0.99), 0.9)
    labels = torch.stack([_blocky_context(cfg, 64, seed=s)[0] for s in range(4)]).view(2, 2, cfg.in_channels, 64, 64)
    images = torch.rand(2, 2, 1, 64, 64) * 2 - 1
    for _ in range(3):
        losses = gan.step(labels, images)
    assert all(np.isfinite(v) for v in losses.values())
    assert 0.0 <= losses["loss_div"] <= 1.0 and losses["loss_mean"] > 0
    weights = [m.weight for m in gan.gen.generator.modules() if isinstance(m, NoiseInjection)]
    assert weights and all(float(w.detach().abs().sum()) > 0 for w in weights)  # the noise is used
    with pytest.raises(ValueError, match="stacks of 1"):
        gan.step(labels[:, 0], images[:, 0])
    assert prior_region(128, 96, 0.5, 16, minimum=48) == (32, 16, 64, 48)
    assert prior_region(64, 64, 0.5, 16, minimum=96) == (0, 0, 64, 64)  # never larger than the crop


def test_lowpass_l1_ignores_texture_finer_than_the_pool_and_diversity_loss_is_bounded():
    base = torch.zeros(1, 1, 16, 16)
    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 0.4 - 0.2
    assert float(lowpass_l1_loss(base + checker, base, 1)) == pytest.approx(0.2)
    assert float(lowpass_l1_loss(base + checker, base, 4)) == pytest.approx(0.0, abs=1e-7)
    assert float(lowpass_l1_loss(base + 0.3, base, 4)) == pytest.approx(0.3)
    z1, z2 = torch.zeros(1, 4), torch.ones(1, 4)
    assert float(diversity_loss(base, base, z1, z2)) == pytest.approx(1.0)
    assert float(diversity_loss(base, base + 1.0, z1, z2)) == 0.0
    assert 0.0 < float(diversity_loss(base, base + 0.02, z1, z2, target=0.05)) < 1.0
    # pooled, new fine noise alone does not count as variety
    assert float(diversity_loss(base, base + checker, z1, z2, target=0.05, pool=4)) == pytest.approx(1.0)
    # per-label means: a thin tissue's intensity counts however thin, its texture does not
    hot = torch.zeros(1, 2, 16, 16)
    hot[:, 1, :, 7:9] = 1.0  # a 2-pixel-wide tissue
    hot[:, 0] = 1.0 - hot[:, 1]
    real = torch.where(hot[:, 1:] > 0, 0.5, -1.0)
    assert float(label_mean_loss(real + 0.1 * hot[:, 1:], real, hot)) == pytest.approx(0.05)
    textured = real + torch.where(hot[:, 1:] > 0, checker, 0.0)
    assert float(label_mean_loss(textured, real, hot)) == pytest.approx(0.0, abs=1e-6)


def test_rescan_target_is_each_tissues_scanner_noise_and_the_term_asks_for_that_much_and_no_more():
    g = torch.Generator().manual_seed(0)
    hot = torch.zeros(1, 3, 96, 96)
    hot[:, 1, 8:88, 8:48] = 1.0  # a quiet tissue
    hot[:, 2, 8:88, 48:88] = 1.0  # a grainy one (bone next to it)
    hot[:, 0] = 1.0 - hot[:, 1:].sum(1)
    sigma = 0.02 * hot[:, 1:2] + 0.1 * hot[:, 2:3]

    def scan():
        return sigma * torch.randn(1, 1, 96, 96, generator=g)

    scan_a, scan_b = scan(), scan()
    targets = rescan_difference(scan_a, hot)
    assert float(targets[0]) == 0.0  # no target in the background
    for c in (1, 2):  # what two real scans differ by, tissue by tissue
        inside = hot[0, c] > 0.5
        rescan = float((scan_a - scan_b)[0, 0][inside].abs().mean())
        assert float(targets[c]) == pytest.approx(rescan, rel=0.15), c
    assert float(rescan_difference(torch.zeros(1, 1, 96, 96), hot).sum()) == 0.0  # no texture: no target
    flat = torch.zeros(1, 1, 96, 96)
    assert float(rescan_loss(flat, flat, hot, targets)) == pytest.approx(1.0)  # identical draws
    assert float(rescan_loss(scan_a, scan_b, hot, targets)) < 0.1  # two scans' worth of difference
    assert float(rescan_loss(flat, flat + 1.0, hot, targets)) == 0.0  # more is not rewarded
    # the grainy tissue's difference does not meet the quiet tissue's target
    only_grainy = flat + 0.5 * hot[:, 2:3]
    assert float(rescan_loss(flat, only_grainy, hot, targets)) == pytest.approx(0.5)
    assert float(rescan_loss(flat, flat, hot, torch.zeros(3))) == 0.0


def test_label_distribution_loss_is_the_wasserstein_distance_per_tissue_and_ignores_where_values_lie():
    g = torch.Generator().manual_seed(0)
    hot = torch.zeros(2, 3, 32, 32)
    hot[:, 1, 4:20, 4:28] = 1.0
    hot[:, 2, 22:30, 2:30] = 1.0
    hot[:, 0] = 1.0 - hot[:, 1:].sum(1)
    real = torch.randn(2, 1, 32, 32, generator=g) * 0.1 + hot[:, 1:2] * 0.3 + hot[:, 2:3] * 0.8
    # the same values moved around inside each label: the same distributions, no loss
    shuffled = real.clone()
    for b in range(2):
        for c in range(3):
            idx = hot[b, c].flatten().nonzero()[:, 0]
            flat = shuffled[b, 0].flatten()
            flat[idx] = flat[idx][torch.randperm(len(idx), generator=g)]
            shuffled[b, 0] = flat.view(32, 32)
    assert not torch.allclose(shuffled, real)
    assert float(label_distribution_loss(shuffled, real, hot)) == pytest.approx(0.0, abs=1e-6)
    # a shift of one tissue by 0.2: W1 = 0.2 for that label, 0 for the other two (mean over 6 pairs)
    shifted = real + 0.2 * hot[:, 1:2]
    assert float(label_distribution_loss(shifted, real, hot)) == pytest.approx(0.2 * 2 / 6, rel=1e-4)
    # the right mean but no spread (a tissue rendered smooth): the mean term sees nothing, this does
    smooth = real.clone()
    for c in range(3):
        m = hot[:, c : c + 1] > 0.5
        smooth = torch.where(m, (real * m).sum(dim=(2, 3), keepdim=True) / m.sum(dim=(2, 3), keepdim=True), smooth)
    assert float(label_mean_loss(smooth, real, hot)) == pytest.approx(0.0, abs=1e-6)
    assert float(label_distribution_loss(smooth, real, hot)) == pytest.approx(0.1 * np.sqrt(2 / np.pi), rel=0.15)
    # pooled: a shift still counts in full, pixel grain (white noise) only by its pooled part
    # (label 2 keeps 6 whole 4x4 cells, under min_pixels: 4 pairs are left, 2 of them shifted)
    assert float(label_distribution_loss(shifted, real, hot, pool=4)) == pytest.approx(0.2 * 2 / 4, rel=1e-4)
    pooled_smooth = float(label_distribution_loss(smooth, real, hot, pool=4))
    assert pooled_smooth < 0.4 * float(label_distribution_loss(smooth, real, hot))
    # gradients reach every pixel of a label
    fake = smooth.clone().requires_grad_(True)
    label_distribution_loss(fake, real, hot).backward()
    assert float((fake.grad != 0).float().mean()) > 0.95


def test_the_rescan_term_makes_two_noise_draws_differ():
    """With the rescan term the prior branch draws its own noise, and a few steps on textured
    images grow the noise injection so that two draws of one label map differ."""
    torch.manual_seed(0)
    cfg = tiny(d_slices=2, d_layers=2)
    labels = torch.stack([_blocky_context(cfg, 64, seed=s)[0] for s in range(4)]).view(2, 2, cfg.in_channels, 64, 64)
    images = (torch.rand(2, 2, 1, 64, 64) * 2 - 1) * 0.5

    def noise_gain(settings: StepSettings) -> float:
        torch.manual_seed(0)
        gan = GanTrainer(cfg, settings, torch.device("cpu"), 1e-2, 1e-3, (0.0, 0.99), 0.9)
        for _ in range(8):
            losses = gan.step(labels, images)
        assert all(np.isfinite(v) for v in losses.values())
        gen = gan.gen.generator.eval()
        ctx = labels.view(4, cfg.in_channels, 64, 64)
        with torch.no_grad():
            return float((gen(ctx, None, make_noise(ctx, gen.noise_levels)) - gen(ctx, None, make_noise(ctx, gen.noise_levels))).abs().mean()), losses

    without, losses_off = noise_gain(StepSettings(l1_pool=4, lambda_div=1.0))
    with_term, losses_on = noise_gain(StepSettings(l1_pool=4, lambda_div=1.0, lambda_rescan=1.0))
    assert losses_off["loss_rescan"] == 0.0 and 0.0 <= losses_on["loss_rescan"] <= 1.0
    assert with_term > 1.5 * without, (with_term, without)


@pytest.mark.slow
def test_quality_preset_builds_and_steps_at_256_and_runs_at_512():
    """What benchmarks/gpu_check.py times on a GPU: one step at the preset's 256 px crops, and the
    generator fully convolutional on a 512 x 512 slice."""
    torch.manual_seed(0)
    cfg = preset("quality", num_classes=4)
    gan = GanTrainer(cfg, StepSettings(l1_pool=4, lambda_div=1.0), torch.device("cpu"), 1e-4, 4e-4, (0.0, 0.99), 0.999)
    labels = one_hot_context(torch.randint(0, 4, (2, 3, 256, 256)), 4).view(1, 2, cfg.in_channels, 256, 256)
    losses = gan.step(labels, torch.rand(1, 2, 1, 256, 256) * 2 - 1)
    assert all(np.isfinite(v) for v in losses.values())
    big = preset("quality", num_classes=4, image_size=512)
    assert big.depth == 6
    gen = build_generator(big).eval()
    with torch.no_grad():
        out = gen(one_hot_context(torch.randint(0, 4, (1, 3, 512, 512)), 4))
    assert out.shape == (1, 1, 512, 512) and torch.isfinite(out).all()


def test_a_checkpoint_from_before_issue_12_is_refused_saying_what_changed():
    from engine.models import describe_incompatibility

    new = preset("quick", num_classes=4)
    old = {k: v for k, v in new.signature().items() if k not in ("noise", "d_slices")}
    old.update(layout_version=2, norm="instance", base_channels=32)
    lines = describe_incompatibility(old, new, generator_only=True)
    assert lines[0].startswith("model layout version: checkpoint has 2, this run has 3")
    assert "per-pixel norm, noise injection" in lines[0]
    assert "generator normalisation: checkpoint has instance, this run has pixel" in lines
