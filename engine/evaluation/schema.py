"""report.json: its required keys and ranges, JSON cleaning, reading it back (for the export's
manifest.json), and the plain-text summary the CLI prints."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import EvaluationError

REPORT_FILE = "report.json"
HTML_FILE = "report.html"

# section -> {key: (low, high)}: every one a finite number in the range
REQUIRED: dict[str, dict[str, tuple[float, float]]] = {
    "fidelity": {"psnr": (0.0, 100.0), "ssim": (-1.0, 1.0)},
    "diversity": {"ms_ssim_synthetic": (0.0, 1.0), "ms_ssim_real": (0.0, 1.0)},
    "memorization": {"nn_ratio": (0.0, 1000.0), "flagged": (0.0, math.inf)},
    "tstr": {
        "dice_real": (0.0, 1.0),
        "dice_synthetic": (0.0, 1.0),
        "dice_mixed": (0.0, 1.0),
        "ratio": (0.0, 10.0),
    },
}
MEASURES = ("fidelity", "intensity_w1", "diversity", "memorization", "tstr")


def clean_json(obj: Any) -> Any:
    """Plain JSON types; NumPy scalars become numbers, arrays are dropped, non-finite floats None."""
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items() if not isinstance(v, np.ndarray)}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj if not isinstance(v, np.ndarray)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def report_problems(report: dict) -> list[str]:
    """What is missing or out of range in a report dict (empty when it is sound)."""
    problems = []

    def number(where: str, value: Any, low: float, high: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.append(f"{where}: {value!r} is not a finite number")
        elif not low <= value <= high:
            problems.append(f"{where}: {value} is outside [{low}, {high}]")

    for section, keys in REQUIRED.items():
        part = report.get(section)
        if not isinstance(part, dict):
            problems.append(f"{section}: missing")
            continue
        for key, (low, high) in keys.items():
            number(f"{section}.{key}", part.get(key), low, high)
    w1 = report.get("intensity_w1")
    if not isinstance(w1, dict) or not w1:
        problems.append("intensity_w1: missing or empty")
    else:
        for name, value in w1.items():
            number(f"intensity_w1.{name}", value, 0.0, math.inf)
    per_label = (report.get("tstr") or {}).get("per_label")
    if not isinstance(per_label, dict):
        problems.append("tstr.per_label: missing")
    else:
        for name, scores in per_label.items():
            for key in ("real", "synthetic", "mixed"):
                number(f"tstr.per_label.{name}.{key}", (scores or {}).get(key), 0.0, 1.0)
    if "utility_study" in report:
        problems += study_problems(report["utility_study"], number)
    return problems


STUDY_CONDITIONS = ("real", "real+augmentation", "synthetic", "real+synthetic", "real+synthetic+augmentation")


def study_problems(study: Any, number) -> list[str]:
    """What is missing or out of range in the ``utility_study`` section."""
    if not isinstance(study, dict) or not isinstance(study.get("conditions"), list) or not study["conditions"]:
        return ["utility_study.conditions: missing or empty"]
    problems = []
    if not isinstance(study.get("segmenter"), dict):
        problems.append("utility_study.segmenter: missing")
    if isinstance(study.get("test_cases"), bool) or not isinstance(study.get("test_cases"), int):
        problems.append("utility_study.test_cases: missing")
    names = set()
    for i, c in enumerate(study["conditions"]):
        where = f"utility_study.conditions[{i}]"
        if c.get("name") not in STUDY_CONDITIONS:
            problems.append(f"{where}.name: {c.get('name')!r} is not one of {', '.join(STUDY_CONDITIONS)}")
        names.add(c.get("name"))
        number(f"{where}.dice_mean", c.get("dice_mean"), 0.0, 1.0)
        ci = c.get("dice_ci95")
        if ci is not None and not (isinstance(ci, list) and len(ci) == 2 and ci[0] <= c.get("dice_mean", 0) <= ci[1]):
            problems.append(f"{where}.dice_ci95: {ci!r} is not an interval around the mean")
        for key in ("ratio", "label_source", "augmentation", "seeds", "per_label"):
            if key not in c:
                problems.append(f"{where}.{key}: missing")
        for name, lab in (c.get("per_label") or {}).items():
            number(f"{where}.per_label.{name}.dice_mean", (lab or {}).get("dice_mean"), 0.0, 1.0)
    for needed in ("real", "real+augmentation", "synthetic"):
        if needed not in names:
            problems.append(f"utility_study: no {needed!r} condition")
    return problems


def check_report(report: dict) -> dict:
    problems = report_problems(report)
    if problems:
        raise EvaluationError("The quality report is incomplete: " + "; ".join(problems[:6]))
    return report


def read_quality_report(path: Path | str) -> dict:
    """report.json (or the report folder holding it) as the ``quality`` dict for the export's
    manifest.json, checked: every required number present, finite and in range."""
    path = Path(path)
    if path.is_dir():
        path = path / REPORT_FILE
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no quality report there; run `evaluate` first.") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise EvaluationError(f"{path}: the quality report cannot be read ({exc}).") from None
    if not isinstance(report, dict):
        raise EvaluationError(f"{path}: not a quality report (expected a JSON object).")
    return check_report(report)


def summary_table(report: dict) -> str:
    """A few lines for the terminal: each measure's key numbers and its verdict."""
    f, d, m, t = report["fidelity"], report["diversity"], report["memorization"], report["tstr"]
    units = report.get("intensity", {}).get("units", "")
    w1 = ", ".join(f"{k} {v:.3g}" for k, v in report["intensity_w1"].items())
    rows = [
        (
            "Fidelity",
            f"PSNR {f['psnr']:.2f} dB, SSIM {f['ssim']:.3f} (foreground {f.get('ssim_foreground', f['ssim']):.3f})",
        ),
        ("Intensity W1", f"{w1} ({units})"),
        (
            "Diversity",
            f"MS-SSIM synthetic {d['ms_ssim_synthetic']:.3f} vs real neighbours {d['ms_ssim_real']:.3f}",
        ),
        ("Memorisation", f"NN ratio {m['nn_ratio']:.3f}, flagged {m['flagged']}"),
        (
            "Utility (TSTR)",
            f"Dice real {t['dice_real']:.3f}, synthetic {t['dice_synthetic']:.3f}, "
            f"mixed {t['dice_mixed']:.3f}; ratio {t['ratio']:.3f}, gain {t.get('gain', 0.0):+.3f}",
        ),
    ]
    study = report.get("utility_study")
    if study:
        best = study.get("best") or {}
        real = next(c for c in study["conditions"] if c["name"] == "real")
        aug = next(c for c in study["conditions"] if c["name"] == "real+augmentation")
        text = f"Dice real {real['dice_mean']:.3f}, real+augmentation {aug['dice_mean']:.3f}"
        if best:
            text += f", best mix {best['dice_mean']:.3f} ({best['label_source']} maps, {best['ratio']:g} per real)"
        rows.append(("Utility study", text + f"; {len(study['seeds'])} seeds, {study['test_cases']} test case(s)"))
    width = max(len(r[0]) for r in rows)
    lines = [f"{name:<{width}}  {text}" for name, text in rows]
    verdicts = report.get("verdicts", {})
    if verdicts:
        lines.append("")
        for key, name in zip((*MEASURES, "utility_study"), (r[0] for r in rows)):
            v = verdicts.get(key)
            if v:
                lines.append(f"{name:<{width}}  [{v['status']}] {v['text']}")
    return "\n".join(lines)
