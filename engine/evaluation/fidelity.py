"""Fidelity: a synthetic slice generated from a real slice's label map against that real slice.

Pure functions on arrays (N, H, W): ``real`` and ``synthetic`` in the normalised training space
[-1, 1] (data range 2), ``classes`` the class index of each pixel (0 = background), and optionally
the same slices in HU / MR units for the per-label intensity errors.

- PSNR = 10 log10(R^2 / MSE), MSE pooled over every pixel of every slice (R = 2); identical images
  give the cap ``PSNR_CAP_DB`` instead of infinity.
- SSIM: the Gaussian SSIM map (11x11 window, sigma 1.5, K1 0.01, K2 0.03, torchmetrics), averaged
  over all pixels (whole image) and over the foreground pixels (class != 0) only.
- per-label mean intensity error: mean(synthetic) - mean(real) inside each label, in units.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchmetrics.functional.image import structural_similarity_index_measure

PSNR_CAP_DB = 100.0


def psnr(
    real: np.ndarray, synthetic: np.ndarray, data_range: float = 2.0, mask: np.ndarray | None = None
) -> float:
    """PSNR in dB over all pixels (or the pixels of ``mask``); capped at PSNR_CAP_DB."""
    diff = np.asarray(real, np.float64) - np.asarray(synthetic, np.float64)
    if mask is not None:
        diff = diff[np.asarray(mask, bool)]
    if diff.size == 0:
        return 0.0
    mse = float(np.mean(diff * diff))
    if mse <= (data_range**2) * 10 ** (-PSNR_CAP_DB / 10):
        return PSNR_CAP_DB
    return float(min(PSNR_CAP_DB, 10.0 * math.log10(data_range**2 / mse)))


def ssim_map(real: np.ndarray, synthetic: np.ndarray, data_range: float = 2.0, chunk: int = 32) -> np.ndarray:
    """The SSIM map (N, H, W) of each pair (Gaussian window 11, sigma 1.5)."""
    out = []
    for i in range(0, len(real), chunk):
        a = torch.from_numpy(np.ascontiguousarray(synthetic[i : i + chunk], np.float32))[:, None]
        b = torch.from_numpy(np.ascontiguousarray(real[i : i + chunk], np.float32))[:, None]
        _, full = structural_similarity_index_measure(
            a,
            b,
            data_range=data_range,
            gaussian_kernel=True,
            sigma=1.5,
            kernel_size=11,
            reduction="none",
            return_full_image=True,
        )
        out.append(full[:, 0].numpy())
    return np.concatenate(out) if out else np.zeros((0,) + tuple(real.shape[1:]), np.float32)


def per_label_mean_error(
    real_units: np.ndarray, synthetic_units: np.ndarray, classes: np.ndarray, names: dict[int, str]
) -> tuple[dict[str, float], list[str]]:
    """{label name: mean(synthetic) - mean(real) inside the label}, and the labels absent here."""
    errors, absent = {}, []
    for c, name in names.items():
        m = classes == c
        if not m.any():
            absent.append(name)
            continue
        errors[name] = float(
            np.mean(synthetic_units[m], dtype=np.float64) - np.mean(real_units[m], dtype=np.float64)
        )
    return errors, absent


def fidelity_measures(
    real: np.ndarray,
    synthetic: np.ndarray,
    classes: np.ndarray,
    names: dict[int, str] | None = None,
    real_units: np.ndarray | None = None,
    synthetic_units: np.ndarray | None = None,
    data_range: float = 2.0,
    cases: list[str] | None = None,
) -> dict:
    """PSNR and SSIM (whole image and foreground), MAE and per-label mean error in units."""
    real = np.asarray(real, np.float32)
    synthetic = np.asarray(synthetic, np.float32)
    if real.shape != synthetic.shape or real.shape != classes.shape or real.ndim != 3:
        raise ValueError(
            f"fidelity: real {real.shape}, synthetic {synthetic.shape} and labels {classes.shape} "
            "must be the same (N, H, W)"
        )
    if names is None:
        names = {int(c): f"label {int(c)}" for c in np.unique(classes)}
    real_units = real if real_units is None else np.asarray(real_units, np.float32)
    synthetic_units = synthetic if synthetic_units is None else np.asarray(synthetic_units, np.float32)
    fg = classes != 0
    smap = ssim_map(real, synthetic, data_range)
    ssim_all = float(np.clip(smap.mean(), -1, 1)) if smap.size else 0.0
    ssim_fg = float(np.clip(smap[fg].mean(), -1, 1)) if fg.any() else ssim_all
    errors, absent = per_label_mean_error(real_units, synthetic_units, classes, names)
    fg_errors = [
        abs(v) for c, v in ((c, errors.get(n)) for c, n in names.items()) if c != 0 and v is not None
    ]
    result = {
        "psnr": psnr(real, synthetic, data_range),
        "ssim": ssim_all,
        "psnr_foreground": psnr(real, synthetic, data_range, fg)
        if fg.any()
        else psnr(real, synthetic, data_range),
        "ssim_foreground": ssim_fg,
        "mae_units": float(np.mean(np.abs(real_units - synthetic_units), dtype=np.float64))
        if real.size
        else 0.0,
        "label_mean_error": errors,
        "mean_abs_label_error": float(np.mean(fg_errors)) if fg_errors else 0.0,
        "labels_absent": absent,
        "slices": int(len(real)),
    }
    if cases is not None:
        per_case = {}
        for case in dict.fromkeys(cases):
            idx = np.array([c == case for c in cases])
            per_case[case] = {
                "psnr": psnr(real[idx], synthetic[idx], data_range),
                "ssim": float(np.clip(smap[idx].mean(), -1, 1)),
                "slices": int(idx.sum()),
            }
        result["per_case"] = per_case
    return result
