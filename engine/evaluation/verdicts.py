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
    one_seed = t.get("seeds", 1) < 3
    few = t.get("test_cases", 0) < 3  # one or two held-out patients (or a block of the training one)
    if (weak or one_seed or few) and status == "good":
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
    if one_seed:
        text += " One seed, no interval: a quick check; the utility study (evaluate --study) gives the verdict."
    elif few:
        text += f" Indicative only: {t.get('test_cases', 0)} held-out patient(s)."
    return _v(status, text)


def _ci(c: dict) -> str:
    ci = c.get("dice_ci95")
    return f"{c['dice_mean']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{c['dice_mean']:.3f} (no interval)"


def utility_study_verdict(s: dict) -> dict:
    """The utility study: does synthetic data help, and more than augmentation? Never "good"
    without intervals that support it, at most "fair" with one or two test patients."""
    by = {}
    for c in s["conditions"]:
        by.setdefault(c["name"], c)
    real, aug = by.get("real"), by.get("real+augmentation")
    syn, rsa = by.get("synthetic"), by.get("real+synthetic+augmentation")
    b = s["segmenter"]
    budget = (
        f"Budget: {b['iterations']} iterations of {b['batch_size']} patches ({b['patch_size'][0]}x{b['patch_size'][1]} px), "
        f"learning rate {b['lr']:g}, {len(s['seeds'])} seed(s) per condition."
    )
    if real is None or real["dice_mean"] < 0.01:
        return _v("poor", "The segmenter trained on real slices failed; the study says nothing. " + budget)
    rec, goals = s.get("recommended") or {}, s.get("goals") or {}
    helps = rec.get("ratio") is not None
    beaten = goals.get("augmentation_beaten", {})
    beats_aug = bool(beaten.get("met")) and (beaten.get("ci95") or [0.0])[0] > 0
    syn_share = goals.get("synthetic_vs_real", {}).get("measured", 0.0)
    if helps and beats_aug:
        status = "good"
        lead = "Synthetic data helps the segmenter, more than classic augmentation alone"
    elif helps:
        status = "fair"
        lead = "Adding synthetic data helps the segmenter, but not beyond classic augmentation"
    elif syn_share >= TSTR_FAIR:
        status = "fair"
        lead = "Synthetic data trains a segmenter, but adding it to real data does not help yet"
    else:
        status = "poor"
        lead = "The synthetic data does not help a segmenter yet"
    few = s["test_cases"] < 3 or not s.get("patient_level", True)
    if few and status == "good":
        status = "fair"
    parts = [f"{lead}: real {_ci(real)}"]
    if aug is not None:
        parts.append(f"real+augmentation {_ci(aug)}")
    if syn is not None:
        parts.append(f"synthetic alone {_ci(syn)} ({100 * syn_share:.0f}% of real)")
    best = s.get("best")
    if best:
        parts.append(f"best mix ({best['label_source']} maps, {best['ratio']:g} synthetic per real) {best['dice_mean']:.3f}")
    if rsa is not None:
        parts.append(f"with augmentation {_ci(rsa)}")
    text = "; ".join(parts) + " (mean Dice on held-out real slices, 95% interval)."
    if helps:
        text += (
            f" Recommended mix: {rec['ratio']:g} synthetic per real from {rec['label_source']} maps "
            f"(+{rec['gain']:.3f} Dice over real)."
        )
    else:
        text += " No mix is recommended: none beat real data by 0.01 Dice with an interval above 0."
    rare = s.get("rare_label")
    if rare and "rare_label_gain" in goals:
        g = goals["rare_label_gain"]
        text += f" Rare label {rare}: rebalanced maps change its Dice by {g['measured']:+.3f} (goal +{g['target']:.2f})."
    if s.get("unlearned_labels"):
        text += (
            f" No condition learns {', '.join(s['unlearned_labels'])} (best Dice below 0.1): the budget or the "
            "data cannot teach it."
        )
    if not s.get("patient_level", True):
        text = (
            "Indicative only: the test slices are a held-out block of the training patient, not a new patient. "
            + text
        )
    elif few:
        text = f"Indicative only ({s['test_cases']} held-out patient(s)). " + text
    return _v(status, text + " " + budget)
