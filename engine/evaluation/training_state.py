"""How a training run is doing, in plain words, from its validation curve and losses: "learning",
"levelled off" or "unstable — lower the learning rate" (issue 14 §6). Plain NumPy: the window
shows it above its quality curve, and it is tested on synthetic curves.

The quality curve is the validation SSIM of the EMA generator against the real held-out slices of
the same label maps (``val_ssim``, every ``val_every`` iterations). The rules, in order:

1. fewer than ``MIN_POINTS`` validation points: *starting* (nothing to judge yet);
2. *unstable* when the newest generator or discriminator loss is not a finite number, when the
   smoothed generator loss has grown to ``LOSS_BLOWUP`` times its best, when the quality fell
   ``DROP`` or more below its best and stays there (the last two points), or when it swings: over the
   last ``SWING_POINTS`` points the mean step is at least ``SWING`` and the direction changes at
   every step (one dip and recovery is not a swing);
3. *learning* when a straight line through the newer half of the points (at least 3) still gains
   ``GAIN`` or more SSIM over that stretch;
4. otherwise *levelled off*.

"What good looks like" is the quality report's yardstick (engine.evaluation.verdicts): SSIM 0.75 and
PSNR 25 dB good, below 0.5 / 20 dB poor. The report measures SSIM inside the body; validation
SSIM covers whole slices, air included, so it reads a little higher: the Gallery's quality check
gives the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.evaluation.verdicts import PSNR_FAIR, PSNR_GOOD, SSIM_FAIR, SSIM_GOOD

MIN_POINTS = 3
DROP = 0.1
SWING, SWING_POINTS = 0.04, 5
GAIN = 0.02
LOSS_BLOWUP = 3.0

STATES = ("starting", "learning", "levelled", "unstable")
HEADLINES = {
    "starting": "Starting",
    "learning": "Learning",
    "levelled": "Levelled off",
    "unstable": "Unstable — lower the learning rate",
}


@dataclass(frozen=True)
class TrainingState:
    state: str  # one of STATES
    headline: str  # "Learning", "Levelled off", "Unstable — lower the learning rate"
    detail: str  # one sentence: why, and what to do


def grade(ssim: float | None, psnr: float | None = None) -> str:
    """ "good" | "fair" | "poor" of a validation point, by the quality report's thresholds (the
    worse of SSIM and PSNR when both are given); "" without a value."""
    if ssim is None or not np.isfinite(ssim):
        return ""
    grades = ["good" if ssim >= SSIM_GOOD else "fair" if ssim >= SSIM_FAIR else "poor"]
    if psnr is not None and np.isfinite(psnr):
        grades.append("good" if psnr >= PSNR_GOOD else "fair" if psnr >= PSNR_FAIR else "poor")
    return max(grades, key=("good", "fair", "poor").index)


def _state(key: str, detail: str) -> TrainingState:
    return TrainingState(key, HEADLINES[key], detail)


def _loss_trouble(loss: np.ndarray, name: str) -> str | None:
    if len(loss) == 0:
        return None
    if not np.isfinite(loss[-1]):
        return f"the {name} loss is no longer a number (it diverged)"
    finite = loss[np.isfinite(loss)]
    if name == "generator" and len(finite) >= 20:
        window = max(5, len(finite) // 20)
        smooth = np.convolve(finite, np.ones(window) / window, mode="valid")
        best = float(np.min(smooth[: max(1, len(smooth) - 1)]))
        if best > 0 and smooth[-1] > LOSS_BLOWUP * best:
            return f"the generator loss has grown to {smooth[-1] / best:.1f} times its lowest"
    return None


def assess(
    iterations: Sequence[float],
    ssim: Sequence[float],
    loss_g: Sequence[float] = (),
    loss_d: Sequence[float] = (),
) -> TrainingState:
    """The state of a run from its validation SSIM points (by iteration) and its logged losses."""
    it = np.asarray(iterations, dtype=np.float64)
    q = np.asarray(ssim, dtype=np.float64)
    keep = np.isfinite(it) & np.isfinite(q)
    it, q = it[keep], q[keep]
    for loss, name in (
        (np.asarray(loss_g, float), "generator"),
        (np.asarray(loss_d, float), "discriminator"),
    ):
        trouble = _loss_trouble(loss, name)
        if trouble:
            return _state(
                "unstable",
                f"{trouble[0].upper()}{trouble[1:]}. Lower the learning rate (Advanced "
                "settings) and resume from the last good checkpoint.",
            )
    if len(q) < MIN_POINTS:
        return _state("starting", "The quality curve appears after a few validations; nothing to judge yet.")
    best = float(q.max())
    if best - q[-1] >= DROP and best - q[-2] >= DROP:
        return _state(
            "unstable",
            f"The quality fell from its best ({best:.2f}) to {q[-1]:.2f}. Lower the learning "
            "rate (Advanced settings) and resume from an earlier checkpoint.",
        )
    recent = q[-SWING_POINTS:]
    if len(recent) >= SWING_POINTS:
        steps = np.diff(recent)
        flips = int(np.sum(np.sign(steps[1:]) * np.sign(steps[:-1]) < 0))
        if np.mean(np.abs(steps)) >= SWING and flips >= len(steps) - 1:
            return _state(
                "unstable",
                "The quality swings up and down from one validation to the next. Lower the "
                "learning rate (Advanced settings).",
            )
    half = q[len(q) // 2 :] if len(q) >= 6 else q[-MIN_POINTS:]
    x = it[len(it) - len(half) :]
    slope = float(np.polyfit(x, half, 1)[0]) if np.ptp(x) > 0 else 0.0
    gain = slope * float(np.ptp(x))
    if gain >= GAIN:
        return _state(
            "learning",
            f"The quality rose by {gain:.2f} over the last {int(np.ptp(x)):,} iterations and "
            "is still improving.",
        )
    return _state(
        "levelled",
        "More iterations change little now: you can stop and look at the samples in the "
        "Gallery (training can resume where it stopped).",
    )
