"""One training curve's data: the raw values and their moving average, and how metrics are named
and which axis they belong on. NumPy only (SciPy's lfilter for the bulk moving average)."""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

from gui.widgets.series_buffer import SeriesBuffer

LOSS, METRIC, DECIBEL = "loss", "metric", "decibel"
AXIS_LABELS = {LOSS: "loss", METRIC: "validation (0–1)", DECIBEL: "PSNR (dB)"}
_NAMES = {
    "loss_g": ("Generator", "G"),
    "loss_d": ("Discriminator", "D"),
    "loss_l1": ("L1 (pixel difference)", "L1"),
    "loss_gan": ("Adversarial", "GAN"),
    "loss_adv": ("Adversarial (fooling the critic)", "Adv"),
    "loss_perceptual": ("Perceptual", "Perc."),
    "loss_fm": ("Feature matching", "FM"),
    "loss_kl": ("Style code (KL)", "KL"),
    "loss_div": ("Diversity", "Div"),
    "loss_mean": ("Tissue brightness", "Mean"),
    "loss_rescan": ("Scanner grain", "Grain"),
    "loss_hist": ("Tissue intensities", "Hist"),
    "val_ssim": ("SSIM (validation)", "SSIM"),
    "val_psnr": ("PSNR dB (validation)", "PSNR"),
    "val_l1": ("L1 (validation)", "vL1"),
    "val_dice": ("Dice (validation)", "Dice"),
}
TERMS = {  # what each curve means, for the plot's tooltip
    "loss_g": "Generator (total): everything the generator is trained to make smaller, weighted and summed",
    "loss_d": "Discriminator: how well the critic tells real slices from generated ones (lower: it wins more)",
    "loss_adv": "Adversarial: how far the generated slices are from fooling the critic",
    "loss_gan": "Adversarial: how far the generated slices are from fooling the critic",
    "loss_l1": "L1: the mean pixel difference between a generated slice and the real one of the same label map",
    "loss_fm": "Feature matching: how differently the critic's layers respond to generated and real slices",
    "loss_kl": "Style code (KL): keeps the style codes the encoder reads from real scans well spread",
    "loss_div": "Diversity: rewards different images for different style codes of the same label map",
    "loss_perceptual": "Perceptual: differences in a pretrained network's features",
    "loss_mean": "Tissue brightness: how far each label's mean intensity is from the real scan's (HU stay true)",
    "loss_hist": "Tissue intensities: how far each label's spread of intensities (median, bright tail) is from the real scan's",
    "loss_rescan": "Scanner grain: how much less two draws of one label map differ than two real scans would (0: as much)",
    "val_ssim": "SSIM (validation): structural similarity to the real held-out slice, 0 to 1 (higher is closer)",
    "val_psnr": "PSNR (validation): peak signal-to-noise ratio against the real held-out slice, dB (higher is closer)",
    "val_l1": "L1 (validation): mean pixel difference from the real held-out slice (lower is closer)",
    "val_dice": "Dice (validation): overlap of a segmentation of the generated slice with the label map",
}


def terms_text(keys) -> str:
    """One line per shown curve: its name and what it means (unknown names are said as such)."""
    lines = [TERMS.get(k, f"{display_name(k)}: logged by the trainer") for k in sorted(keys, key=series_order)]
    return "\n".join(lines) or "The training losses appear here once training logs them."


def series_order(key: str) -> tuple[int, int, str]:
    """Losses first, then validation metrics; the known names in their usual order."""
    known = list(_NAMES)
    return (0 if axis_for(key) == LOSS else 1, known.index(key) if key in known else len(known), key)


def is_plotted(key: str) -> bool:
    """Series the plot shows: ``loss``/``loss_*`` and ``val_*`` (the names a run logs its metrics by)."""
    return key == "loss" or key.startswith(("loss_", "val_"))


def axis_for(key: str) -> str:
    if not key.startswith("val_"):
        return LOSS
    return DECIBEL if "psnr" in key else METRIC


def display_name(key: str) -> str:
    if key in _NAMES:
        return _NAMES[key][0]
    if key.startswith("loss_"):
        return f"{key[5:].replace('_', ' ')} loss"
    if key.startswith("val_"):
        return f"{key[4:].replace('_', ' ')} (validation)"
    return key


def short_name(key: str) -> str:
    if key in _NAMES:
        return _NAMES[key][1]
    return key.split("_", 1)[-1]


def moving_average(
    y: np.ndarray, weight: float, previous: float | None = None
) -> tuple[np.ndarray, float | None]:
    """Exponential moving average of ``y`` continuing from ``previous`` (NaNs stay gaps and do not
    disturb the average). Returns (averaged values, last average)."""
    y = np.asarray(y, dtype=np.float64)
    out = np.full_like(y, np.nan)
    finite = np.isfinite(y)
    if not finite.any():
        return out, previous
    values = y[finite]
    if weight <= 0:
        out[finite] = values
        return out, float(values[-1])
    start = values[0] if previous is None else previous
    averaged, _ = lfilter([1.0 - weight], [1.0, -weight], values, zi=[weight * start])
    out[finite] = averaged
    return out, float(averaged[-1])


class LossSeries:
    """Raw values and their moving average (weight 0: no average kept) in two capped buffers."""

    def __init__(self, cap: int, smoothing: float = 0.0) -> None:
        self.raw = SeriesBuffer(cap)
        self.smooth = SeriesBuffer(cap)
        self.weight = float(smoothing)
        self._average: float | None = None

    def __len__(self) -> int:
        return len(self.raw)

    def append(self, x: float, y: float) -> None:
        last = self.raw.last_x()
        if last is not None and x <= last:  # a resumed run: replace from this iteration on
            self.truncate_from(x)
        y = y if math.isfinite(y) else math.nan
        self.raw.append(x, y)
        if self.weight > 0:
            if not math.isnan(y):
                self._average = (
                    y if self._average is None else self.weight * self._average + (1 - self.weight) * y
                )
            self.smooth.append(x, self._average if not math.isnan(y) else math.nan)

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        """Bulk append, keeping a point only if no later point is at or before its iteration."""
        x = np.asarray(x, dtype=np.float64)
        y = np.where(np.isfinite(y), np.asarray(y, dtype=np.float64), np.nan)
        if len(x) == 0:
            return
        later_min = np.minimum.accumulate(x[::-1])[::-1]
        keep = x < np.append(later_min[1:], np.inf)
        x, y = x[keep], y[keep]
        if len(self.raw):
            self.truncate_from(float(x[0]))
        self.raw.extend(x, y)
        if self.weight > 0:
            averaged, self._average = moving_average(y, self.weight, self._average)
            self.smooth.extend(x, averaged)

    def truncate_from(self, x: float) -> None:
        self.raw.truncate_from(x)
        self.smooth.truncate_from(x)
        finite = self.smooth.y[np.isfinite(self.smooth.y)] if len(self.smooth) else ()
        self._average = float(finite[-1]) if len(finite) else None

    def set_smoothing(self, weight: float) -> None:
        """Recompute the average over the kept history with a new weight (a user action: O(n))."""
        self.weight = float(weight)
        self.smooth.clear()
        self._average = None
        if self.weight > 0 and len(self.raw):
            averaged, self._average = moving_average(self.raw.y, self.weight)
            self.smooth.extend(self.raw.x, averaged)
