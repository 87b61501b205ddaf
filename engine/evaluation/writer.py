"""Writes a computed report into its folder: the PNGs (for the GUI and the page), report.html, and
report.json last (through a temporary file), so a folder with report.json holds a whole report."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from engine.errors import EvaluationError
from engine.evaluation import figures as fig
from engine.evaluation.html_page import render_html
from engine.evaluation.schema import HTML_FILE, REPORT_FILE
from engine.events import Control

MAX_PAIRS_SHOWN = 4
PAIRS_FILE = "memorization_pairs.npz"  # the closest pairs as arrays, for the GUI


def _pairs_npz(pairs: list[dict]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        synthetic=np.stack([p["synthetic_slice"] for p in pairs]).astype(np.float32),
        training=np.stack([p["training_slice"] for p in pairs]).astype(np.float32),
        distance=np.array([p["distance"] for p in pairs], np.float64),
        flagged=np.array([p["flagged"] for p in pairs], bool),
        synthetic_from=np.array([p.get("synthetic_from", "") for p in pairs]),
        training_from=np.array([p.get("training_from", "") for p in pairs]),
    )
    return buf.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def render_figures(report: dict, figures: dict) -> dict[str, bytes]:
    classes, real, synthetic, where = figures["held"]
    pick = np.unique(np.round(np.linspace(0, len(real) - 1, min(MAX_PAIRS_SHOWN, len(real)))).astype(int))
    units = report.get("units", "")
    t = report["tstr"]
    return {
        "pairs.png": fig.pairs_figure(
            classes[pick], real[pick], synthetic[pick], figures["colors"], [where[i] for i in pick]
        ),
        "intensity.png": fig.intensity_figure(figures["hists"], report["intensity_w1"], units),
        "diversity.png": fig.diversity_figure(
            *figures["div"], report["diversity"]["ms_ssim_synthetic"], report["diversity"]["ms_ssim_real"]
        ),
        "memorization.png": fig.memorization_figure(figures["pairs"]),
        "memorization_distances.png": fig.distances_figure(
            *figures["nn"], report["memorization"]["threshold"]
        ),
        "tstr.png": fig.tstr_figure(
            t["per_label"],
            {"real": t["dice_real"], "synthetic": t["dice_synthetic"], "mixed": t["dice_mixed"]},
        ),
    }


def write_report(out: Path, report: dict, figures: dict, control: Control | None = None) -> dict[str, str]:
    """Write everything; sets ``report["images"]`` (name -> file name) and returns it."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        images = render_figures(report, figures)
        if control is not None:
            control.raise_if_stopped()
        for name, png in images.items():
            _atomic_write(out / name, png)
        report["images"] = {name.removesuffix(".png"): name for name in images}
        if figures["pairs"]:
            _atomic_write(out / PAIRS_FILE, _pairs_npz(figures["pairs"]))
            report["closest_pairs_file"] = PAIRS_FILE
        _atomic_write(out / HTML_FILE, render_html(report, images).encode("utf-8"))
        text = json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False)
        _atomic_write(out / REPORT_FILE, (text + "\n").encode("utf-8"))
    except OSError as exc:
        raise EvaluationError(f"{out}: the report cannot be written ({exc}).") from None
    return report["images"]
