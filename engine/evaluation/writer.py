"""Writes a computed report into its folder: the PNGs (for the GUI and the page), report.html, and
report.json last (through a temporary file), so a folder with report.json holds a whole report.

A report is shared with colleagues, so everything written passes through the run's release policy
(engine.release): cases by their pseudonyms, no path, no known identifier, in the JSON, the page,
the pictures' captions and the arrays file alike. The caller keeps its own (local) copy."""

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
from engine.release import Release

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
    images = {
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
    if "utility_study" in report:
        images["utility_study.png"] = fig.study_figure(report["utility_study"])
    return images


_PATH_SETTINGS = ("run", "out", "data")


def released_report(report: dict, release: Release) -> dict:
    """The report as it may be shared: the run by its anonymous id, the checkpoint by its file
    name, the data by what it is, then every string through ``release``."""
    shared = dict(report)
    shared["run"] = release.run_id
    if shared.get("checkpoint"):
        shared["checkpoint"] = Path(str(shared["checkpoint"])).name
    held = shared.get("heldout")
    if isinstance(held, dict) and isinstance(held.get("cases"), list):
        shared["heldout"] = {**held, "cases": [release.pseudonym(c) for c in held["cases"]]}
    fidelity = shared.get("fidelity")
    if isinstance(fidelity, dict) and isinstance(fidelity.get("per_case"), dict):
        per_case = {release.pseudonym(k): v for k, v in fidelity["per_case"].items()}
        shared["fidelity"] = {**fidelity, "per_case": per_case}
    other = (held or {}).get("mode") == "other_dataset"
    if "data" in shared:
        shared["data"] = "another dataset (not used in training)" if other else "the run's own dataset"
    if isinstance(shared.get("settings"), dict):
        settings = {k: v for k, v in shared["settings"].items() if k not in _PATH_SETTINGS}
        if settings.get("checkpoint"):
            settings["checkpoint"] = Path(str(settings["checkpoint"])).name
        shared["settings"] = settings
    return release.document(shared)


def released_figures(figures: dict, release: Release) -> dict:
    """The figures' captions through ``release`` (the arrays as they are)."""
    classes, real, synthetic, where = figures["held"]
    pairs = [
        {**p, "synthetic_from": release.text(p.get("synthetic_from", "")),
         "training_from": release.text(p.get("training_from", ""))}
        for p in figures["pairs"]
    ]
    return {**figures, "held": (classes, real, synthetic, [release.text(w) for w in where]), "pairs": pairs}


def report_release(report: dict, release: Release) -> Release:
    """``release``, also covering the other dataset of a report on data the run never saw."""
    held = report.get("heldout") or {}
    if held.get("mode") == "other_dataset" and report.get("data"):
        return release.with_dataset(Path(str(report["data"])), held.get("cases") or [])
    return release


def write_report(
    out: Path, report: dict, figures: dict, control: Control | None = None, *, release: Release
) -> dict[str, str]:
    """Write everything as ``release`` allows; sets ``report["images"]`` (name -> file name) on
    the caller's copy too and returns it."""
    out = Path(out)
    release = report_release(report, release)
    shared = released_report(report, release)
    figures = released_figures(figures, release)
    try:
        out.mkdir(parents=True, exist_ok=True)
        images = render_figures(shared, figures)
        if control is not None:
            control.raise_if_stopped()
        for name, png in images.items():
            _atomic_write(out / name, png)
        report["images"] = shared["images"] = {name.removesuffix(".png"): name for name in images}
        if figures["pairs"]:
            _atomic_write(out / PAIRS_FILE, _pairs_npz(figures["pairs"]))
            report["closest_pairs_file"] = shared["closest_pairs_file"] = PAIRS_FILE
        _atomic_write(out / HTML_FILE, render_html(shared, images).encode("utf-8"))
        text = json.dumps(shared, indent=2, ensure_ascii=False, allow_nan=False)
        _atomic_write(out / REPORT_FILE, (text + "\n").encode("utf-8"))
    except OSError as exc:
        raise EvaluationError(f"{out}: the report cannot be written ({exc}).") from None
    return report["images"]
