"""The plain-words training state (issue 14 §6) on synthetic curves of known shape."""

from __future__ import annotations

import numpy as np

from engine.evaluation.training_state import assess, grade


def iters(n, every=100):
    return np.arange(1, n + 1) * every


def test_a_rising_curve_is_learning():
    x = iters(12)
    ssim = 0.85 - 0.5 * np.exp(-x / 600)  # still climbing at the end
    s = assess(x, ssim)
    assert s.state == "learning" and s.headline == "Learning"


def test_a_flat_tail_has_levelled_off():
    x = iters(20)
    ssim = 0.8 - 0.4 * np.exp(-x / 150) + np.random.default_rng(1).normal(0, 0.003, len(x))
    assert assess(x, ssim).state == "levelled"


def test_too_few_points_say_starting():
    assert assess([100, 200], [0.4, 0.5]).state == "starting"
    assert assess([], []).state == "starting"


def test_a_collapse_from_the_best_is_unstable():
    x = iters(10)
    ssim = [0.3, 0.45, 0.55, 0.62, 0.66, 0.68, 0.6, 0.52, 0.5, 0.49]
    s = assess(x, ssim)
    assert s.state == "unstable" and s.headline == "Unstable — lower the learning rate"
    assert "fell" in s.detail


def test_a_single_dip_is_not_a_collapse():
    x = iters(10)
    ssim = [0.3, 0.45, 0.55, 0.62, 0.66, 0.68, 0.70, 0.55, 0.71, 0.72]
    assert assess(x, ssim).state != "unstable"


def test_swinging_quality_is_unstable():
    x = iters(12)
    ssim = [0.3, 0.4, 0.5, 0.55, 0.6, 0.62, 0.5, 0.63, 0.51, 0.64, 0.52, 0.62]
    assert assess(x, ssim).state == "unstable"


def test_diverged_or_exploding_losses_are_unstable():
    x = iters(12)
    ssim = 0.85 - 0.5 * np.exp(-x / 600)
    g = np.full(200, 1.0)
    g[-1] = np.nan
    assert "no longer a number" in assess(x, ssim, loss_g=g).detail.lower()
    d = np.ones(200)
    d[-1] = np.inf
    assert assess(x, ssim, loss_d=d).state == "unstable"
    blowup = np.concatenate([np.linspace(2, 0.5, 150), np.linspace(0.5, 4.0, 100)])
    s = assess(x, ssim, loss_g=blowup)
    assert s.state == "unstable" and "grown" in s.detail
    assert assess(x, ssim, loss_g=np.linspace(2, 0.5, 250)).state == "learning"  # falling loss: fine


def test_grades_follow_the_quality_reports_yardstick():
    assert grade(0.8) == "good" and grade(0.6) == "fair" and grade(0.3) == "poor"
    assert grade(0.8, 22.0) == "fair"  # the worse of the two
    assert grade(None) == ""
