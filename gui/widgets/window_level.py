"""Window/level: the editable presets file, the automatic (percentile) window, the readout text.

Pure Python + NumPy (no Qt), so the rules are testable on their own and shared by every view.
Windows are (center, width) pairs, as DICOM WindowCenter/WindowWidth and Slicer show them.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.resources import RESOURCES_DIR

log = logging.getLogger(__name__)

PRESETS_FILE = RESOURCES_DIR / "window_presets.json"
AUTO_PRESET = "Auto (percentiles)"
FROM_FILE = "From file"  # the window the file's header gives (DICOM WindowCenter/Width)
AUTO_PERCENTILES = (0.1, 99.9)
_SAMPLE_VOXELS = 2_000_000  # the auto window reads at most about this many voxels


@dataclass(frozen=True)
class WindowPreset:
    name: str
    width: float
    level: float
    modality: str | None = None  # "CT": values in HU, offered for CT (and unknown) volumes only
    opens: str | None = None  # "head" | "body": a CT of that region without a window of its own opens with it

    def applies_to(self, modality: str | None) -> bool:
        return self.modality is None or modality is None or self.modality.upper() == modality.upper()


def load_presets(path: Path | None = None) -> dict[str, WindowPreset]:
    """Presets from ``{"name": {"width": .., "level": .., "modality": "CT", "opens": "head"}}``, in
    file order (keys starting with ``_`` are comments).

    A missing or broken file logs a warning and gives no presets (the auto window still works);
    a broken entry is skipped with a warning naming it.
    """
    path = PRESETS_FILE if path is None else Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("Window presets not loaded from %s: %s", path, exc)
        return {}
    presets: dict[str, WindowPreset] = {}
    if not isinstance(data, dict):
        log.warning("Window presets in %s must be a JSON object of name -> {width, level}.", path)
        return presets
    for name, entry in data.items():
        if str(name).startswith("_"):
            continue
        try:
            width, level = float(entry["width"]), float(entry["level"])
            if not (math.isfinite(width) and math.isfinite(level) and width > 0):
                raise ValueError("width must be > 0 and both values finite")
            modality, opens = entry.get("modality"), entry.get("opens")
            presets[str(name)] = WindowPreset(
                str(name), width, level, str(modality) if modality else None, str(opens) if opens else None
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("Window preset %r in %s skipped: %s", name, path, exc)
    return presets


def _sample(volume: np.ndarray) -> np.ndarray:
    """A strided sample of about _SAMPLE_VOXELS voxels (a view, no full copy of a big volume)."""
    if volume.size <= _SAMPLE_VOXELS:
        return volume
    step = int(math.ceil((volume.size / _SAMPLE_VOXELS) ** (1.0 / volume.ndim)))
    return volume[tuple(slice(None, None, step) for _ in range(volume.ndim))]


def minimum_width(volume_range: float) -> float:
    """The smallest width a drag can reach: never zero (a zero width divides by zero)."""
    return max(abs(volume_range) * 1e-4, 1e-6)


def auto_window(
    volume: np.ndarray, percentiles: tuple[float, float] = AUTO_PERCENTILES
) -> tuple[float, float]:
    """(center, width) spanning the given percentiles of the finite voxels. Never a zero width."""
    sample = np.asarray(_sample(volume))
    finite = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample
    if finite.size == 0:
        return 0.5, 1.0
    lo, hi = (float(v) for v in np.percentile(finite, percentiles))
    if not hi > lo:  # a constant image, or a mostly-constant one
        lo, hi = float(finite.min()), float(finite.max())
    if not hi > lo:
        return lo, 1.0 if lo == 0 else max(abs(lo) * 0.1, 1e-6)
    return (lo + hi) / 2.0, hi - lo


def value_range(volume: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite voxels (of a sample), for the drag gain and limits."""
    sample = np.asarray(_sample(volume))
    finite = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample
    if finite.size == 0:
        return 0.0, 1.0
    return float(finite.min()), float(finite.max())


def format_value(value: float) -> str:
    """HU-sized numbers as integers, small ones (MR, normalised) with 3 significant digits."""
    if abs(value) >= 10 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.3g}"


def readout(center: float, width: float) -> str:
    """The corner text: ``W 400 / L 40`` (integers for HU-sized windows, else 3 significant digits)."""
    if abs(width) >= 10:
        return f"W {round(width)} / L {round(center)}"
    return f"W {width:.3g} / L {center:.3g}"


def dragged_window(
    center: float,
    width: float,
    dx: float,
    dy: float,
    value_range: tuple[float, float],
    view_pixels: float = 500.0,
) -> tuple[float, float]:
    """Slicer's drag (vtkMRMLWindowLevelWidget): right widens the window, up raises the level.

    ``dx``/``dy`` are screen pixels with y growing downward (Qt). Dragging across the smaller
    side of the view (``view_pixels``) changes the value by the whole data range; the level stays
    within the data range widened by half a window, as in Slicer.
    """
    low, high = value_range
    span = max(high - low, width, 1e-6)  # a constant image still drags, at the window's scale
    gain = span / max(view_pixels, 1.0)
    new_width = max(width + dx * gain, minimum_width(span))
    new_center = center - dy * gain
    new_center = min(max(new_center, low - new_width / 2.0), high + new_width / 2.0)
    return new_center, new_width


def opening_preset(
    presets: dict[str, WindowPreset], modality: str | None, region: str | None
) -> WindowPreset | None:
    """The preset a volume without a window of its own opens with: for a CT, the one that ``opens``
    its body region (Brain for a head, Abdomen for a body); None for anything else."""
    if (modality or "").upper() != "CT" or not region:
        return None
    return next((p for p in presets.values() if p.opens == region and p.applies_to("CT")), None)


def matching_preset(
    window: tuple[float, float],
    presets: dict[str, WindowPreset],
    auto: tuple[float, float] | None,
    from_file: tuple[float, float] | None = None,
) -> str | None:
    """The name of the file's window, a preset or the auto window that ``window`` equals, else None
    (a window of the user's own: "Custom")."""
    if from_file is not None and np.allclose(window, from_file):
        return FROM_FILE
    for name, p in presets.items():
        if np.isclose(p.level, window[0]) and np.isclose(p.width, window[1]):
            return name
    if auto is not None and np.allclose(window, auto):
        return AUTO_PRESET
    return None


@dataclass
class VolumeWindow:
    """The windows of one volume: the one it opens with (the file's, else the opening preset, else
    the percentile one), the automatic one, the file's own, and its value range (the drag's gain
    and limits)."""

    initial: tuple[float, float] = (0.5, 1.0)
    auto: tuple[float, float] = (0.5, 1.0)
    range: tuple[float, float] = (0.0, 1.0)
    from_file: tuple[float, float] | None = None

    @classmethod
    def of(
        cls,
        volume: np.ndarray,
        window: tuple[float, float] | None = None,
        opening: WindowPreset | None = None,
    ) -> VolumeWindow:
        auto = auto_window(volume)
        own = (float(window[0]), float(window[1])) if window is not None and float(window[1]) > 0 else None
        initial = own or ((opening.level, opening.width) if opening is not None else auto)
        return cls(initial, auto, value_range(volume), own)

    def clamped(self, center: float, width: float) -> tuple[float, float] | None:
        """The window to show for a request (never narrower than the data allows); None if not finite."""
        center, width = float(center), float(width)
        if not (np.isfinite(center) and np.isfinite(width)):
            return None
        return center, max(width, minimum_width(self.range[1] - self.range[0]))
