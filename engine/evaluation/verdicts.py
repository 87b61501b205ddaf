"""Plain-language verdicts, one per measure, from fixed thresholds (docs/QUALITY.md).

Each verdict is ``{"status": "good" | "fair" | "poor" | "warning", "text": ...}``: "warning" is for
the findings that should stop an export or a training plan (memorised slices, a collapsed
generator), "poor"/"fair"/"good" grade the others.
"""

from __future__ import annotations

# fidelity: SSIM inside the foreground and PSNR over the whole slice (normalised space)
SSIM_GOOD, SSIM_FAIR = 0.75, 0.5
PSNR_GOOD, PSNR_FAIR = 25.0, 20.0
# intensity realism: mean W1 over foreground labels, as a fraction of the trained intensity range
W1_GOOD, W1_FAIR = 0.02, 0.05
# memorisation: nn_ratio below this is a caution even without flagged slices
NN_RATIO_CAUTION = 0.8
# utility: TSTR / TRTR Dice ratio
TSTR_GOOD, TSTR_FAIR = 0.9, 0.7
GAIN_NOTABLE = 0.01
WEAK_REAL_DICE = 0.5  # below it the TRTR baseline is too weak to call the ratio good

ORDER = {"good": 0, "fair": 1, "poor": 2, "warning": 3}


def _v(status: str, text: str) -> dict:
    return {"status": status, "text": text}


def fidelity_verdict(f: dict) -> dict:
    ssim, psnr = f["ssim_foreground"], f["psnr"]
    s = "good" if ssim >= SSIM_GOOD else "fair" if ssim >= SSIM_FAIR else "poor"
    p = "good" if psnr >= PSNR_GOOD else "fair" if psnr >= PSNR_FAIR else "poor"
    status = max(s, p, key=ORDER.get)
    lead = {
        "good": "Synthetic images follow the real ones closely",
        "fair": "Synthetic images resemble the real ones, with visible differences",
        "poor": "Synthetic images differ a lot from the real images of the same anatomy",
    }[status]
    return _v(
        status,
        f"{lead}: structural similarity {ssim:.2f} inside the anatomy (1 = identical) and PSNR "
        f"{psnr:.1f} dB on the held-out slices.",
    )


def intensity_verdict(summary: dict) -> dict:
    rel, units = summary["mean_relative_foreground"], summary["units"]
    worst, worst_rel = summary.get("worst_label"), summary.get("worst_relative", 0.0)
    status = "good" if rel <= W1_GOOD else "fair" if rel <= W1_FAIR else "poor"
    lead = {
        "good": "Tissue intensities match the real ones",
        "fair": "Tissue intensities are somewhat off",
        "poor": "Tissue intensities are clearly off",
    }[status]
    text = f"{lead}: on average {summary['mean_w1_foreground']:.3g} {units} apart ({100 * rel:.1f}% of the intensity range)."
    if worst and status != "good":
        text += f" Furthest: {worst} ({100 * worst_rel:.1f}%)."
    return _v(status, text)


def diversity_verdict(d: dict) -> dict:
    syn, real = d["ms_ssim_synthetic"], d["ms_ssim_real"]
    if d["collapsed"]:
        why = (
            "this model has no style input, so one label map always gives the same image"
            if not d.get("has_style", True)
            else "the style code barely changes the image"
        )
        return _v(
            "warning",
            f"Collapse: samples of the same label map are nearly identical (MS-SSIM {syn:.3f} >= "
            f"{d['collapse_threshold']}); {why}. New variety must come from new label maps.",
        )
    if syn > real:
        return _v(
            "fair",
            f"Samples of one label map vary less than real neighbouring slices do (MS-SSIM {syn:.2f} "
            f"against {real:.2f}; lower = more varied).",
        )
    return _v(
        "good",
        f"Samples of one label map vary at least as much as real neighbouring slices (MS-SSIM "
        f"{syn:.2f} against {real:.2f}; lower = more varied).",
    )


def memorization_verdict(m: dict) -> dict:
    n, ratio = m["flagged"], m["nn_ratio"]
    if n:
        return _v(
            "warning",
            f"{n} synthetic slice(s) are much closer to a training slice than any held-out real "
            f"slice is (under half the closest real distance): they may copy a patient's image. Look at the closest pairs before any export "
            f"leaves the hospital (nearest-neighbour ratio {ratio:.2f}).",
        )
    if ratio < NN_RATIO_CAUTION:
        return _v(
            "fair",
            f"No synthetic slice is closer to a training slice than real data ever is, but synthetic "
            f"slices sit nearer the training data than new real slices do (ratio {ratio:.2f} < "
            f"{NN_RATIO_CAUTION}). Check the closest pairs.",
        )
    return _v(
        "good",
        f"No sign of copying: synthetic slices are no closer to the training slices than new real "
        f"slices are (nearest-neighbour ratio {ratio:.2f}; about 1 or more is expected).",
    )


def utility_verdict(t: dict) -> dict:
    ratio, real, syn, mixed, gain = (
        t["ratio"],
        t["dice_real"],
        t["dice_synthetic"],
        t["dice_mixed"],
        t["gain"],
    )
    if real < 0.01:
        return _v(
            "poor",
            f"The segmenter trained on real slices failed (Dice {real:.2f}); the comparison says "
            "nothing. Use more segmenter iterations or more labelled data.",
        )
    status = "good" if ratio >= TSTR_GOOD else "fair" if ratio >= TSTR_FAIR else "poor"
    weak = real < WEAK_REAL_DICE
    if weak and status == "good":
        status = "fair"
    lead = {
        "good": "Synthetic data trains a segmenter about as well as real data",
        "fair": "Synthetic data trains a segmenter, but less well than real data",
        "poor": "Synthetic data alone trains a much weaker segmenter than real data",
    }[status]
    text = f"{lead}: Dice {syn:.2f} against {real:.2f} (ratio {ratio:.2f})."
    if gain >= GAIN_NOTABLE:
        text += f" Adding synthetic to real data helped (+{gain:.2f} Dice)."
    elif gain <= -GAIN_NOTABLE:
        text += f" Adding synthetic to real data did not help ({gain:+.2f} Dice)."
    else:
        text += f" Adding synthetic to real data changed little ({gain:+.2f} Dice, {mixed:.2f})."
    if weak:
        text += (
            f" The segmenter trained on real data is itself weak (Dice {real:.2f} < {WEAK_REAL_DICE}), so "
            "this comparison is rough; give the segmenters more iterations."
        )
    return _v(status, text)
