"""Intensity realism: per label, the 1-D Wasserstein distance (earth mover's distance, W1) between
the synthetic and the real voxel intensities of that label, in HU (CT) or MR units.

W1 is the mean shift needed to turn one histogram into the other, in the units of the image: a
synthetic liver 20 HU too bright everywhere has W1 = 20 HU. It is computed with
``scipy.stats.wasserstein_distance`` on the pooled voxels of all evaluated slices (at most
``MAX_VOXELS`` per label and side, drawn with a fixed seed). ``relative`` divides it by the width
of the intensity range the model was trained on (the CT window, or the MR percentile range).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance

MAX_VOXELS = 400_000


def _subsample(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if values.size <= MAX_VOXELS:
        return values
    return values[rng.choice(values.size, MAX_VOXELS, replace=False)]


def intensity_w1(
    real_units: np.ndarray,
    synthetic_units: np.ndarray,
    real_classes: np.ndarray,
    names: dict[int, str],
    synthetic_classes: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """{label name: W1 between synthetic and real intensities of that label}; labels present in
    neither side are left out (never NaN). ``synthetic_classes`` defaults to ``real_classes`` (the
    synthetic slices generated from the real label maps)."""
    synthetic_classes = real_classes if synthetic_classes is None else synthetic_classes
    rng = np.random.default_rng(seed)
    out: dict[str, float] = {}
    for c, name in names.items():
        r = np.asarray(real_units)[real_classes == c].astype(np.float64).ravel()
        s = np.asarray(synthetic_units)[synthetic_classes == c].astype(np.float64).ravel()
        if r.size == 0 or s.size == 0:
            continue
        r, s = _subsample(r, rng), _subsample(s, rng)
        r, s = r[np.isfinite(r)], s[np.isfinite(s)]
        if r.size == 0 or s.size == 0:
            continue
        out[name] = float(wasserstein_distance(r, s))
    return out


def intensity_summary(w1: dict[str, float], names: dict[int, str], value_range: float, units: str) -> dict:
    """W1 relative to the trained intensity range, the mean over foreground labels, the worst label."""
    width = max(float(value_range), 1e-6)
    relative = {k: v / width for k, v in w1.items()}
    fg = {names[c]: relative[names[c]] for c in names if c != 0 and names[c] in relative}
    worst = max(fg, key=fg.get) if fg else None
    return {
        "units": units,
        "range_width": float(value_range),
        "w1_relative": relative,
        "mean_w1_foreground": float(np.mean([w1[k] for k in fg])) if fg else 0.0,
        "mean_relative_foreground": float(np.mean(list(fg.values()))) if fg else 0.0,
        "worst_label": worst,
        "worst_relative": float(fg[worst]) if worst else 0.0,
    }


def histograms(
    real_units: np.ndarray,
    synthetic_units: np.ndarray,
    classes: np.ndarray,
    names: dict[int, str],
    bins: int = 64,
) -> dict[str, dict]:
    """Per label: shared bin edges and the real/synthetic densities (for plots)."""
    out = {}
    for c, name in names.items():
        m = classes == c
        if not m.any():
            continue
        r, s = real_units[m].ravel(), synthetic_units[m].ravel()
        lo, hi = float(min(r.min(), s.min())), float(max(r.max(), s.max()))
        if hi <= lo:
            hi = lo + 1.0
        edges = np.linspace(lo, hi, bins + 1)
        out[name] = {
            "edges": edges,
            "real": np.histogram(r, edges, density=True)[0],
            "synthetic": np.histogram(s, edges, density=True)[0],
        }
    return out
