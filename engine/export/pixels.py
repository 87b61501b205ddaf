"""Stored pixel values: CT as int16 HU (identity rescale), MR as integers without a rescale.

Every conversion says what it did (rounding, clipping, scaling) so the manifest can record it.
"""

from __future__ import annotations

import numpy as np

INT16 = (-32768, 32767)
UINT16 = (0, 65535)
MR_SMALL_RANGE = 1000.0  # below this peak, float MR values are scaled up to 12 bits
MR_TARGET_PEAK = 4095.0


def _finite(a: np.ndarray) -> tuple[np.ndarray, int]:
    if a.dtype.kind != "f":
        return a, 0
    bad = ~np.isfinite(a)
    n_bad = int(bad.sum())
    if n_bad:
        a = np.where(bad, 0, a)
    return a, n_bad


def _to_int(a: np.ndarray, bounds: tuple[int, int], dtype, scale: float = 1.0) -> tuple[np.ndarray, int]:
    """Round, clip to ``bounds`` and cast; return the array and the number of clipped voxels."""
    lo, hi = bounds
    if a.dtype.kind in "iu" and scale == 1.0:
        amin, amax = (int(a.min()), int(a.max())) if a.size else (0, 0)
        if amin >= lo and amax <= hi:
            return np.ascontiguousarray(a, dtype=dtype), 0
        clipped = int(np.count_nonzero((a < lo) | (a > hi)))
        return np.ascontiguousarray(np.clip(a, lo, hi), dtype=dtype), clipped
    work = a.astype(np.float32, copy=True) if a.dtype != np.float64 else a.copy()
    if scale != 1.0:
        work *= scale
    np.rint(work, out=work)
    clipped = int(np.count_nonzero((work < lo) | (work > hi)))
    if clipped:
        np.clip(work, lo, hi, out=work)
    return np.ascontiguousarray(work, dtype=dtype), clipped


def ct_pixels(values: np.ndarray) -> tuple[np.ndarray, dict]:
    """HU values (any numeric dtype) -> int16 HU, RescaleIntercept 0 / RescaleSlope 1."""
    a, nonfinite = _finite(np.asarray(values))
    stored, clipped = _to_int(a, INT16, np.int16)
    info = {
        "stored_dtype": "int16",
        "units": "HU",
        "rescale_intercept": 0,
        "rescale_slope": 1,
        "rounded": a.dtype.kind == "f",
        "clipped_voxels": clipped,
        "nonfinite_voxels_set_to_0": nonfinite,
    }
    return stored, info


def mr_pixels(values: np.ndarray) -> tuple[np.ndarray, dict]:
    """MR values -> uint16 (or int16 if negative) with no rescale in DICOM.

    Integer values that fit are kept exactly. Otherwise ``stored = round(value * scale)``: small
    float ranges (peak < 1000) are scaled to a 12-bit peak, ranges beyond 16 bits are scaled down;
    ``scale`` is recorded so ``value ~= stored / scale``.
    """
    a, nonfinite = _finite(np.asarray(values))
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    signed = lo < 0
    bounds, dtype = (INT16, np.int16) if signed else (UINT16, np.uint16)
    integral = a.dtype.kind in "iu" or bool(np.all(a == np.rint(a)))
    peak = max(abs(lo), abs(hi))
    fits = bounds[0] <= lo and hi <= bounds[1]
    if (integral and fits) or peak == 0:
        scale = 1.0
    elif peak > bounds[1]:
        scale = bounds[1] / peak
    elif not integral and peak < MR_SMALL_RANGE:
        scale = MR_TARGET_PEAK / peak
    else:
        scale = 1.0
    stored, clipped = _to_int(a, bounds, dtype, scale)
    info = {
        "stored_dtype": np.dtype(dtype).name,
        "units": "MR signal (arbitrary units)",
        "scale": scale,
        "meaning": "stored = round(value * scale); value ~= stored / scale",
        "rounded": not integral,
        "clipped_voxels": clipped,
        "nonfinite_voxels_set_to_0": nonfinite,
        "value_range": [lo, hi],
    }
    return stored, info


def window_for(stored: np.ndarray) -> tuple[float, float]:
    """A VOI window (centre, width) spanning the 0.5-99.5th percentiles of the stored values."""
    sample = stored[::2, ::4, ::4] if stored.ndim == 3 else stored
    if sample.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(sample, [0.5, 99.5])
    width = max(float(hi - lo), 1.0)
    return float(round((lo + hi) / 2.0, 1)), float(round(width, 1))
