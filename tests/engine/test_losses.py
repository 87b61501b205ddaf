"""GAN losses: known values, multi-scale inputs, detaching, float32 under bf16 autocast."""

from __future__ import annotations

import math
import os

import pytest
import torch

from engine.training.losses import (
    d_adversarial_loss,
    feature_matching_loss,
    g_adversarial_loss,
    kl_divergence,
    l1_loss,
)


def multiscale(logits: list[torch.Tensor], width: int = 4) -> list[list[torch.Tensor]]:
    """The discriminator's output shape: per scale, features then logits."""
    return [[torch.randn(2, width, 8, 8), torch.randn(2, width, 4, 4), lg] for lg in logits]


@pytest.fixture(autouse=True, scope="module")
def _torch_threads():
    """Honour SYNTHVOL_TORCH_THREADS (tests/conftest.py sets 1): steady timings on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("SYNTHVOL_TORCH_THREADS", before)))
    yield
    torch.set_num_threads(before)


# ---- adversarial -----------------------------------------------------------------------------
def test_hinge_d_loss_is_zero_when_real_is_confident_and_fake_rejected():
    real = torch.tensor([1.0, 1.5, 3.0])
    fake = torch.tensor([-1.0, -2.0, -9.0])
    assert d_adversarial_loss(real, fake).item() == 0.0
    assert d_adversarial_loss([real, real], [fake, fake]).item() == 0.0


def test_hinge_d_loss_known_value_and_averaging_over_scales():
    real, fake = torch.tensor([0.0, 2.0]), torch.tensor([0.5, -3.0])
    # relu(1 - real) = [1, 0] -> 0.5; relu(1 + fake) = [1.5, 0] -> 0.75
    assert d_adversarial_loss(real, fake).item() == pytest.approx(1.25)
    zero_real, zero_fake = torch.ones(2), -torch.ones(2)
    two_scales = d_adversarial_loss(multiscale([real, zero_real]), multiscale([fake, zero_fake]))
    assert two_scales.item() == pytest.approx(1.25 / 2)


def test_hinge_g_loss():
    fake = torch.tensor([[1.0, 3.0]])
    assert g_adversarial_loss(fake).item() == pytest.approx(-2.0)
    assert g_adversarial_loss(multiscale([fake, -fake])).item() == pytest.approx(0.0)


def test_lsgan_option():
    ones, zeros = torch.ones(3), torch.zeros(3)
    assert d_adversarial_loss(ones, zeros, mode="lsgan").item() == 0.0
    assert d_adversarial_loss(zeros, ones, mode="lsgan").item() == pytest.approx(1.0)
    assert g_adversarial_loss(ones, mode="lsgan").item() == 0.0
    assert g_adversarial_loss(zeros, mode="lsgan").item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="hinge, lsgan"):
        d_adversarial_loss(ones, zeros, mode="wasserstein")


def test_d_loss_refuses_mismatched_scales():
    with pytest.raises(ValueError, match="scales"):
        d_adversarial_loss([torch.ones(1), torch.ones(1)], [torch.ones(1)])


# ---- feature matching ------------------------------------------------------------------------
def test_feature_matching_is_zero_for_identical_features_and_ignores_logits():
    feats = multiscale([torch.randn(2, 1, 3, 3), torch.randn(2, 1, 2, 2)])
    assert feature_matching_loss(feats, feats).item() == 0.0
    other_logits = [[*scale[:-1], scale[-1] + 5.0] for scale in feats]
    assert feature_matching_loss(other_logits, feats).item() == 0.0


def test_feature_matching_averages_layers_and_scales_and_detaches_real():
    real = [[torch.zeros(1, 2, 4, 4, requires_grad=True), torch.zeros(1, 2, 2, 2), torch.zeros(1, 1, 1, 1)]]
    real.append([torch.zeros(1, 2, 2, 2), torch.zeros(1, 1, 1, 1)])
    fake = [
        [
            torch.full((1, 2, 4, 4), 1.0, requires_grad=True),
            torch.full((1, 2, 2, 2), 3.0),
            torch.zeros(1, 1, 1, 1),
        ],
        [torch.full((1, 2, 2, 2), 4.0), torch.zeros(1, 1, 1, 1)],
    ]
    loss = feature_matching_loss(fake, real)
    # scale 0: mean(1, 3) = 2; scale 1: 4; mean over scales 3
    assert loss.item() == pytest.approx(3.0)
    loss.backward()
    assert real[0][0].grad is None
    assert fake[0][0].grad is not None


# ---- KL, L1 ----------------------------------------------------------------------------------
def test_kl_is_zero_for_the_prior_and_has_the_closed_form_value():
    mu, logvar = torch.zeros(4, 8), torch.zeros(4, 8)
    assert kl_divergence(mu, logvar).item() == 0.0
    # per dimension: 0.5 * (mu^2 + exp(lv) - 1 - lv); mu = 1, lv = 0 -> 0.5; summed over 8 dims
    assert kl_divergence(torch.ones(4, 8), logvar).item() == pytest.approx(4.0)
    lv = torch.full((2, 3), math.log(2.0))
    assert kl_divergence(torch.zeros(2, 3), lv).item() == pytest.approx(3 * 0.5 * (2.0 - 1.0 - math.log(2.0)))


def test_l1():
    a, b = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, -1.0], [0.5, 0.5]]]])
    assert l1_loss(a, b).item() == pytest.approx(0.75)


# ---- bf16 safety -----------------------------------------------------------------------------
def test_losses_are_float32_and_finite_under_bf16_autocast():
    torch.manual_seed(0)
    real_logits = (torch.randn(2, 1, 30, 30) * 200).bfloat16()
    fake_logits = (torch.randn(2, 1, 30, 30) * 200).bfloat16().requires_grad_()
    fake_img = (torch.rand(2, 1, 64, 64) * 2 - 1).bfloat16().requires_grad_()
    real_img = torch.rand(2, 1, 64, 64) * 2 - 1
    feats_f = [[torch.randn(2, 8, 16, 16).bfloat16(), fake_logits]]
    feats_r = [[torch.randn(2, 8, 16, 16).bfloat16(), real_logits]]
    mu, logvar = torch.randn(2, 16).bfloat16(), (torch.randn(2, 16) * 10).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = {
            "d": d_adversarial_loss(feats_r, feats_f),
            "d_ls": d_adversarial_loss(feats_r, feats_f, mode="lsgan"),
            "g": g_adversarial_loss(feats_f),
            "fm": feature_matching_loss(feats_f, feats_r),
            "l1": l1_loss(fake_img, real_img),
            "kl": kl_divergence(mu, logvar),
        }
    for name, value in losses.items():
        assert value.dtype == torch.float32, name
        assert value.dim() == 0 and torch.isfinite(value), name
    # the same numbers as an fp32 computation on the same (bf16-rounded) inputs
    assert losses["l1"].item() == pytest.approx(l1_loss(fake_img.float(), real_img).item(), rel=1e-6)
    assert losses["kl"].item() == pytest.approx(kl_divergence(mu.float(), logvar.float()).item(), rel=1e-6)
    (losses["g"] + losses["l1"]).backward()
    assert torch.isfinite(fake_logits.grad.float()).all() and torch.isfinite(fake_img.grad.float()).all()
