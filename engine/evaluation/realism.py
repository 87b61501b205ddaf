"""Realism: does a synthetic volume look like the scanner's own? Measures on a slab of consecutive
slices generated from held-out label maps, against the real slab, in HU (CT) or MR units.

Pure functions of arrays ``(Z, H, W)``: ``real`` and ``synthetic`` (the same label maps, one style
seed), ``synthetic_b`` (the same maps with another seed) and ``classes`` (class per voxel,
0 = background). Definitions in docs/QUALITY.md (section "Realism"); the targets are those of
issue 12 and live in ``TARGETS``.

Tissue groups (CT) come from the *real* intensities, not from label names: a foreground label
whose real median is in [-200, 300) HU is soft tissue, >= 300 HU bone, [-950, -500) HU lung (MR:
every foreground label is "soft tissue"; there is no bone or lung group). Labels with fewer than
``MIN_VOXELS`` voxels are left out.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from engine.evaluation.fidelity import psnr, ssim_map
from engine.training.losses import RESCAN_PER_HIGHPASS

MIN_VOXELS = 50
SOFT_HU = (-200.0, 300.0)
LUNG_HU = (-950.0, -500.0)
BANDS = {"0.0625-0.25": (0.0625, 0.25), "0.25-0.5": (0.25, 0.5)}
TEXTURE_SIGMA = 1.5  # px: the high-pass residual is the image minus its Gaussian blur
INNER = 3  # px: gradient and texture are taken this far inside a tissue, away from its edges
# CT: each group's values are clipped to its window first, so a strong edge next to it (bone, air)
# cannot leak into the measure through a blur (a blurred edge spreads its gradient inwards)
WINDOWS = {"soft tissue": (-200.0, 300.0), "lung": (-1024.0, -200.0), "bone": (200.0, 3071.0)}
SMOOTH_SIGMA = 2.0  # px: in-plane blur before the "structural" through-plane change
MIN_PLANE_SLICES = 11  # the SSIM window: coronal/sagittal views need this many slices
# name -> (low, high) a ratio (or a value) must lie in; None = unbounded
TARGETS: dict[str, tuple[float | None, float | None]] = {
    "gradient_soft_tissue": (0.85, None),
    "gradient_lung": (0.85, None),
    "spectral_0.0625-0.25": (0.60, None),
    "spectral_0.25-0.5": (0.5, 2.0),
    "texture_soft_tissue": (0.75, 1.33),
    "max_median_error": (None, 30.0),  # HU
    "bone_p95": (0.85, None),
    "seed_diversity": (15.0, None),  # HU
    "through_plane": (0.80, 1.25),
}


def tissue_groups(real: np.ndarray, classes: np.ndarray, names: dict[int, str], modality: str) -> dict[str, list[str]]:
    """{"soft tissue": [label names], "bone": [...], "lung": [...]} from the real medians."""
    groups: dict[str, list[str]] = {"soft tissue": [], "bone": [], "lung": []}
    for c, name in names.items():
        if c == 0:
            continue
        m = classes == c
        if m.sum() < MIN_VOXELS:
            continue
        if modality != "CT":
            groups["soft tissue"].append(name)
            continue
        med = float(np.median(real[m]))
        if SOFT_HU[0] <= med < SOFT_HU[1]:
            groups["soft tissue"].append(name)
        elif med >= SOFT_HU[1]:
            groups["bone"].append(name)
        elif LUNG_HU[0] <= med < LUNG_HU[1]:
            groups["lung"].append(name)
    return groups


def _mask(classes: np.ndarray, names: dict[int, str], members: list[str], erode: int = 0) -> np.ndarray:
    ids = [c for c, n in names.items() if n in members]
    m = np.isin(classes, ids)
    if erode and m.any():
        in_plane = np.zeros((1, 3, 3), bool)
        in_plane[0] = ndimage.generate_binary_structure(2, 1)
        m = ndimage.binary_erosion(m, in_plane, iterations=erode)
    return m


def _ratio(real: float, synthetic: float) -> dict:
    return {"real": float(real), "synthetic": float(synthetic), "ratio": float(synthetic / real) if real > 0 else None}


def gradient_magnitude(vol: np.ndarray) -> np.ndarray:
    """|in-plane gradient| per voxel (central differences, units per pixel)."""
    gy, gx = np.gradient(np.asarray(vol, np.float32), axis=(1, 2))
    return np.hypot(gy, gx)


def band_power(vol: np.ndarray, bands: dict[str, tuple[float, float]] = BANDS) -> dict[str, float]:
    """Mean power per slice in each band of radial frequency (cycles / pixel) of the Hann-windowed,
    mean-removed slice."""
    z, h, w = vol.shape
    window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    radius = np.sqrt(fy**2 + fx**2)
    sel = {k: (radius >= lo) & (radius < hi if hi < 0.5 else radius <= hi) for k, (lo, hi) in bands.items()}
    totals = dict.fromkeys(bands, 0.0)
    for s in np.asarray(vol, np.float32):
        spec = np.abs(np.fft.rfft2((s - s.mean()) * window)) ** 2
        for k, m in sel.items():
            totals[k] += float(spec[m].sum())
    return {k: v / max(1, z) for k, v in totals.items()}


def high_pass(vol: np.ndarray, sigma: float = TEXTURE_SIGMA) -> np.ndarray:
    vol = np.asarray(vol, np.float32)
    return vol - ndimage.gaussian_filter(vol, sigma=(0, sigma, sigma))


def rescan_reference(real: np.ndarray, mask: np.ndarray) -> float:
    """What two scans of this anatomy on this scanner would differ by inside ``mask``, pixel for
    pixel, if its fine texture were all noise: RESCAN_PER_HIGHPASS x the median |x - mean3x3(x)|
    of the real slab (the training's rescan term asks for the same of two draws)."""
    vol = np.asarray(real, np.float32)
    hp = np.abs(vol - ndimage.uniform_filter(vol, size=(1, 3, 3), mode="nearest"))
    return float(RESCAN_PER_HIGHPASS * np.median(hp[mask])) if mask.any() else 0.0


def through_plane_change(vol: np.ndarray, classes: np.ndarray, smooth: float = 0.0) -> float:
    """Mean |slice z+1 - slice z| over the voxels inside the body (label != 0) in both slices;
    with ``smooth``, of the slices blurred in-plane first (structure only, not noise)."""
    vol = np.asarray(vol, np.float32)
    if smooth:
        vol = ndimage.gaussian_filter(vol, sigma=(0, smooth, smooth))
    body = (classes[1:] != 0) & (classes[:-1] != 0)
    if len(vol) < 2 or not body.any():
        return 0.0
    return float(np.abs(vol[1:] - vol[:-1])[body].mean())


def plane_fidelity(real_norm: np.ndarray, synthetic_norm: np.ndarray, classes: np.ndarray) -> dict:
    """SSIM (all pixels and foreground) and PSNR in the axial, coronal and sagittal planes of the
    slab, in the normalised space [-1, 1]; planes with fewer than MIN_PLANE_SLICES rows are left out."""
    views = {"axial": (0, 1, 2), "coronal": (1, 0, 2), "sagittal": (2, 0, 1)}
    out = {}
    for plane, axes in views.items():
        r, s, c = (np.ascontiguousarray(np.transpose(a, axes)) for a in (real_norm, synthetic_norm, classes))
        if min(r.shape[1:]) < MIN_PLANE_SLICES:
            out[plane] = {"skipped": f"the slab has {real_norm.shape[0]} slices (the SSIM window needs {MIN_PLANE_SLICES})"}
            continue
        smap = ssim_map(r, s)
        fg = c != 0
        out[plane] = {
            "ssim": float(np.clip(smap.mean(), -1, 1)),
            "ssim_foreground": float(np.clip(smap[fg].mean(), -1, 1)) if fg.any() else None,
            "psnr": psnr(r, s),
            "images": int(len(r)),
        }
    return out


def realism_measures(
    real: np.ndarray,
    synthetic: np.ndarray,
    synthetic_b: np.ndarray | None,
    classes: np.ndarray,
    names: dict[int, str],
    modality: str,
    real_norm: np.ndarray | None = None,
    synthetic_norm: np.ndarray | None = None,
) -> dict:
    """Every realism measure on one slab (Z, H, W) of consecutive slices; see the module text."""
    real = np.asarray(real, np.float32)
    synthetic = np.asarray(synthetic, np.float32)
    if real.shape != synthetic.shape or real.shape != classes.shape or real.ndim != 3:
        raise ValueError(f"realism: real {real.shape}, synthetic {synthetic.shape} and labels {classes.shape} differ")
    groups = tissue_groups(real, classes, names, modality)
    out: dict = {"slices": int(len(real)), "modality": modality, "groups": groups}

    def windowed(vol: np.ndarray, group: str) -> np.ndarray:
        return np.clip(vol, *WINDOWS[group]) if modality == "CT" else vol

    out["gradient"] = {}
    for group in ("soft tissue", "lung", "bone"):
        m = _mask(classes, names, groups[group], erode=INNER)
        if m.sum() >= MIN_VOXELS:
            g_r = gradient_magnitude(windowed(real, group))[m].mean()
            out["gradient"][group] = _ratio(g_r, gradient_magnitude(windowed(synthetic, group))[m].mean())

    pr, ps = band_power(real), band_power(synthetic)
    out["spectral"] = {k: _ratio(pr[k], ps[k]) for k in BANDS}

    soft_inner = _mask(classes, names, groups["soft tissue"], erode=INNER)
    if soft_inner.sum() >= MIN_VOXELS:
        t_r = high_pass(windowed(real, "soft tissue"))[soft_inner].std()
        out["texture"] = _ratio(t_r, high_pass(windowed(synthetic, "soft tissue"))[soft_inner].std())

    medians = {}
    for c, name in names.items():
        m = classes == c
        if c == 0 or m.sum() < MIN_VOXELS:
            continue
        r, s = float(np.median(real[m])), float(np.median(synthetic[m]))
        medians[name] = {"real": r, "synthetic": s, "error": s - r}
    out["tissue_median"] = medians
    out["max_median_error"] = max((abs(v["error"]) for v in medians.values()), default=0.0)

    bone = _mask(classes, names, groups["bone"])
    if bone.sum() >= MIN_VOXELS:
        out["bone_p95"] = _ratio(np.percentile(real[bone], 95), np.percentile(synthetic[bone], 95))

    soft = _mask(classes, names, groups["soft tissue"])
    if synthetic_b is not None and soft.sum() >= MIN_VOXELS:
        b = np.asarray(synthetic_b, np.float32)
        out["seed_diversity"] = {"mean_abs_difference": float(np.abs(synthetic - b)[soft].mean()),
                                 "rescan_reference": rescan_reference(real, soft_inner if soft_inner.any() else soft)}

    out["through_plane"] = _ratio(through_plane_change(real, classes), through_plane_change(synthetic, classes))
    out["through_plane_smooth"] = _ratio(
        through_plane_change(real, classes, SMOOTH_SIGMA), through_plane_change(synthetic, classes, SMOOTH_SIGMA)
    )
    if real_norm is not None and synthetic_norm is not None:
        out["per_plane"] = plane_fidelity(real_norm, synthetic_norm, classes)
    out["checks"] = realism_checks(out)
    return out


def realism_checks(m: dict) -> dict[str, dict]:
    """Each target of TARGETS that could be measured: its value, the range and whether it is met."""
    values = {
        "gradient_soft_tissue": m.get("gradient", {}).get("soft tissue", {}).get("ratio"),
        "gradient_lung": m.get("gradient", {}).get("lung", {}).get("ratio"),
        "spectral_0.0625-0.25": m.get("spectral", {}).get("0.0625-0.25", {}).get("ratio"),
        "spectral_0.25-0.5": m.get("spectral", {}).get("0.25-0.5", {}).get("ratio"),
        "texture_soft_tissue": m.get("texture", {}).get("ratio"),
        "max_median_error": m.get("max_median_error") if m.get("modality") == "CT" else None,
        "bone_p95": m.get("bone_p95", {}).get("ratio"),
        "seed_diversity": m.get("seed_diversity", {}).get("mean_abs_difference") if m.get("modality") == "CT" else None,
        "through_plane": m.get("through_plane", {}).get("ratio"),
    }
    out = {}
    for name, value in values.items():
        if value is None:
            continue
        lo, hi = TARGETS[name]
        out[name] = {"value": float(value), "low": lo, "high": hi,
                     "met": bool((lo is None or value >= lo) and (hi is None or value <= hi))}
    return out


def _far_off(c: dict) -> bool:
    """Missed by more than a factor 2 (or, for an HU limit, twice the limit): not a near miss."""
    v, lo, hi = c["value"], c["low"], c["high"]
    return bool((hi is not None and v > 2 * hi) or (lo is not None and lo > 0 and v < lo / 2))


def realism_verdict(m: dict) -> dict:
    """good: every measured target met; fair: at least half and none far off; poor otherwise.
    "Far off" (``_far_off``) keeps pure noise from passing as fair on the one-sided targets it
    meets (sharpness, detail, bone range, seed variety)."""
    checks = m.get("checks", {})
    if not checks:
        return {"status": "fair", "text": "Realism could not be measured on this held-out slab."}
    missed = [k for k, c in checks.items() if not c["met"]]
    met = len(checks) - len(missed)
    far = any(_far_off(checks[k]) for k in missed)
    status = "good" if not missed else "fair" if met >= len(checks) / 2 and not far else "poor"
    text = f"{met} of {len(checks)} realism targets met"
    if missed:
        text += " (missed: " + ", ".join(f"{k} {checks[k]['value']:.3g}" for k in missed) + ")"
    return {"status": status, "text": text + "."}


MAX_SLAB = 48  # consecutive held-out slices the realism measures use


def realism_slab(heldout_rows: np.ndarray, max_slices: int = MAX_SLAB) -> np.ndarray:
    """The longest run of consecutive held-out slices of one volume (rows (v, z)), at most
    ``max_slices`` from its middle: the slab realism is measured on."""
    rows = np.asarray(heldout_rows, np.int64).reshape(-1, 2)
    if len(rows) == 0:
        return rows
    rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    breaks = np.flatnonzero((np.diff(rows[:, 0]) != 0) | (np.diff(rows[:, 1]) != 1)) + 1
    runs = np.split(rows, breaks)
    best = max(runs, key=len)
    start = max(0, (len(best) - max_slices) // 2)
    return best[start : start + max_slices]


def realism_report(data, generator, names: dict[int, str], seed: int, batch_size: int = 8, tick=None) -> dict:
    """Realism of a run on its held-out slab: ``data`` an EvaluationData, ``generator`` a slice
    generator (engine.evaluation.sampling); two style seeds derived from ``seed``."""
    from engine.evaluation.sampling import generate_for_rows

    slab = realism_slab(data.heldout_rows)
    if len(slab) < 2:
        return {"slices": int(len(slab)), "checks": {}, "skipped": "fewer than 2 consecutive held-out slices"}
    seeds = [int(np.random.default_rng([seed, k, 29]).integers(0, 2**31 - 1)) for k in (0, 1)]
    real_norm, classes = data.slices(slab)
    syn = [generate_for_rows(data.contexts, slab, generator, [s] * len(slab), batch_size, tick) for s in seeds]
    ref = np.tile(data.synthetic_range, (len(slab), 1))
    real = data.to_units(real_norm, data.units_range(slab))
    syn_a, syn_b = data.to_units(syn[0], ref), data.to_units(syn[1], ref)
    out = realism_measures(real, syn_a, syn_b, classes, names, data.normalization.modality, real_norm, syn[0])
    out["slab"] = {"case": data.case_of(slab[:1])[0], "z": [int(slab[0, 1]), int(slab[-1, 1])]}
    return out
