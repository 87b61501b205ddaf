"""report.html: one self-contained page (styles inline, pictures as base64 data URIs)."""

from __future__ import annotations

import base64
from html import escape

STATUS_COLORS = {"good": "#2e7d32", "fair": "#b26a00", "poor": "#c62828", "warning": "#c62828"}

SECTIONS = [
    (
        "fidelity",
        "Fidelity: does a synthetic image look like the real one?",
        "For each held-out real slice, the model drew an image from that slice's label map; it is compared with the "
        "real image. PSNR (higher = closer; above 25 dB is close) and SSIM (1 = identical structure) are computed in "
        "the intensity range the model was trained on.",
        ["pairs.png"],
    ),
    (
        "intensity_w1",
        "Intensity realism: are the tissue intensities right?",
        "Per label, the Wasserstein distance between the synthetic and the real intensity histograms: the average "
        "shift, in image units, that turns one into the other (0 = same distribution).",
        ["intensity.png"],
    ),
    (
        "diversity",
        "Diversity: does the model make varied images?",
        "Several images drawn from the same label map with different random styles are compared in pairs with "
        "MS-SSIM (1 = identical); real neighbouring slices give a yardstick. Near 1 means the model makes one image "
        "per label map.",
        ["diversity.png"],
    ),
    (
        "memorization",
        "Memorisation (privacy): does the model copy training images?",
        "For every synthetic slice, the distance to the most similar training slice, against the same distance for "
        "real slices the model never saw. A synthetic slice much closer to a training slice than any unseen real "
        "slice ever is (under half that distance) gets flagged; the closest pairs are shown side by side.",
        ["memorization.png", "memorization_distances.png"],
    ),
    (
        "tstr",
        "Utility: can synthetic data train a segmentation model?",
        "Three small segmentation networks with the same training budget learn from real slices, from synthetic "
        "slices only, and from both; each is tested on held-out real slices (Dice: 1 = perfect overlap).",
        ["tstr.png"],
    ),
    (
        "utility_study",
        "Utility study: does synthetic data help a segmenter, more than augmentation does?",
        "The same MONAI segmenter and budget, trained with several seeds on real slices, on real slices with classic "
        "augmentation, on synthetic slices only, on real plus synthetic slices at several synthetic:real ratios for "
        "each label source, and on the best mix with augmentation; each tested on held-out real patients. Mean "
        "Dice with its 95% interval over the seeds (and the test patients).",
        ["utility_study.png"],
    ),
]


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(str(value))


def _table(rows: list[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


# plain names for the JSON keys shown on the page ({u}: the image units)
LABELS = {
    "psnr": "PSNR, whole slice (dB)",
    "ssim": "SSIM, whole slice",
    "psnr_foreground": "PSNR inside the anatomy (dB)",
    "ssim_foreground": "SSIM inside the anatomy",
    "mae_units": "mean absolute difference ({u})",
    "psnr_mean_style": "PSNR with the mean style (dB)",
    "ssim_mean_style": "SSIM with the mean style",
    "slices": "held-out slices compared",
    "ms_ssim_synthetic": "MS-SSIM between samples of one label map",
    "ms_ssim_real": "MS-SSIM between real neighbouring slices",
    "collapsed": "collapsed (MS-SSIM at or above the line)",
    "collapse_threshold": "collapse line",
    "maps": "label maps sampled",
    "samples_per_map": "styles per label map",
    "scales": "MS-SSIM scales",
    "nn_ratio": "nearest-neighbour ratio (synthetic / real)",
    "flagged": "flagged synthetic slices",
    "threshold": "flag line (distance)",
    "median_nn_synthetic": "median distance, synthetic to training",
    "median_nn_real": "median distance, held-out real to training",
    "min_nn_synthetic": "smallest distance, synthetic to training",
    "min_nn_real": "smallest distance, held-out real to training",
    "synthetic_slices": "synthetic slices checked",
    "heldout_slices": "held-out real slices",
    "training_slices": "training slices searched",
    "dice_real": "Dice, trained on real",
    "dice_synthetic": "Dice, trained on synthetic",
    "dice_mixed": "Dice, trained on real + synthetic",
    "ratio": "ratio synthetic / real (TSTR / TRTR)",
    "gain": "gain of real + synthetic over real",
}
KEYS = {
    "fidelity": (
        "psnr",
        "ssim",
        "psnr_foreground",
        "ssim_foreground",
        "mae_units",
        "psnr_mean_style",
        "ssim_mean_style",
        "slices",
    ),
    "diversity": (
        "ms_ssim_synthetic",
        "ms_ssim_real",
        "collapsed",
        "collapse_threshold",
        "maps",
        "samples_per_map",
        "scales",
    ),
    "memorization": (
        "nn_ratio",
        "flagged",
        "threshold",
        "median_nn_synthetic",
        "median_nn_real",
        "min_nn_synthetic",
        "min_nn_real",
        "synthetic_slices",
        "heldout_slices",
        "training_slices",
    ),
    "tstr": ("dice_real", "dice_synthetic", "dice_mixed", "ratio", "gain"),
}


def _numbers(key: str, report: dict) -> list[tuple[str, object]]:
    part = report.get(key, {})
    units = report.get("units", "")
    if key == "intensity_w1":
        return [(f"W1 {name} ({units})", v) for name, v in part.items()]
    rows = [(LABELS[k].format(u=units), part[k]) for k in KEYS[key] if k in part]
    if key == "fidelity":
        rows += [
            (f"mean intensity error, {n} ({units})", v) for n, v in part.get("label_mean_error", {}).items()
        ]
    if key == "tstr":
        for name, sc in part.get("per_label", {}).items():
            text = f"{sc['real']:.3f} / {sc['synthetic']:.3f} / {sc['mixed']:.3f}"
            rows.append((f"Dice {name} (real / synthetic / mixed)", text))
    return rows


def _img(name: str, png: bytes | None) -> str:
    if not png:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{escape(name)}" src="data:image/png;base64,{data}"></figure>'


def render_html(report: dict, images: dict[str, bytes]) -> str:
    from engine.evaluation.study_tables import study_tables

    verdicts = report.get("verdicts", {})
    shown = [sec for sec in SECTIONS if sec[0] != "utility_study" or "utility_study" in report]
    summary = "".join(
        f"<tr><th>{escape(title.split(':')[0])}</th><td class='status' style='color:"
        f"{STATUS_COLORS.get(verdicts.get(key, {}).get('status'), '#333')}'>"
        f"{escape(verdicts.get(key, {}).get('status', ''))}</td><td>{escape(verdicts.get(key, {}).get('text', ''))}</td></tr>"
        for key, title, _, _ in shown
    )
    sections = []
    for key, title, explain, pics in shown:
        numbers = study_tables(report[key]) if key == "utility_study" else _table(_numbers(key, report))
        v = verdicts.get(key, {})
        color = STATUS_COLORS.get(v.get("status"), "#333")
        sections.append(
            f"<section id='{key}'><h2>{escape(title)}</h2>"
            f"<p class='verdict' style='border-color:{color}'><b style='color:{color}'>{escape(v.get('status', ''))}"
            f"</b> {escape(v.get('text', ''))}</p><p>{escape(explain)}</p>{numbers}"
            + "".join(_img(p, images.get(p)) for p in pics)
            + "</section>"
        )
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.get("notes", []))
    info = _table(
        [
            ("run", report.get("run", "")),
            ("checkpoint", report.get("checkpoint", "")),
            ("held-out data", report.get("heldout", {}).get("description", "")),
            ("modality", report.get("modality", "")),
            ("seed", report.get("settings", {}).get("seed", "")),
            ("computed", report.get("created", "")),
            ("time", f"{report.get('seconds', 0.0):.0f} s"),
        ]
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>SynthVol quality report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; color: #222; line-height: 1.45; }}
h1 {{ font-size: 1.6em; }} h2 {{ font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin: .6em 0; }} th, td {{ text-align: left; padding: .2em .8em .2em 0;
vertical-align: top; }} th {{ font-weight: 600; }} td.status {{ font-weight: 700; }}
.verdict {{ border-left: 4px solid; padding: .3em .8em; background: #f7f7f7; }}
figure {{ margin: .8em 0; }} img {{ max-width: 100%; }} .small {{ color: #666; font-size: .9em; }}
</style></head><body>
<h1>SynthVol quality report</h1>
<p>Does the synthetic data look real, vary, protect the patients it was trained on, and help a segmentation
model? Every number below is computed on this computer from held-out real data; no image left it.</p>
{info}
<h2>Summary</h2><table>{summary}</table>
{"".join(sections)}
<h2>Notes and limits</h2><ul>{notes}</ul>
<p class="small">Definitions and thresholds: docs/QUALITY.md of SynthVol.</p>
</body></html>
"""
