"""Where the bundled resources live (colour table, W/L presets, demo dataset)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"
DEMO_DATASET = RESOURCES_DIR / "demo"


LABEL_COLORS_FILE = RESOURCES_DIR / "label_colors.json"


@cache
def label_color_file() -> dict:
    """resources/label_colors.json: colours by structure name, their synonyms, the fallback palette
    (engine.data.label_colors reads the names; this module only knows where the file is)."""
    return json.loads(LABEL_COLORS_FILE.read_text(encoding="utf-8"))


def label_colors() -> tuple[tuple[int, int, int], ...]:
    """The fallback palette: colour N for a label value N whose name the colour table does not know."""
    return tuple(tuple(int(c) for c in rgb) for rgb in label_color_file()["fallback"])  # type: ignore[misc]


def color_for_label(value: int) -> tuple[int, int, int]:
    """The fallback colour of label value ``value`` (by number; names come first, see
    engine.data.label_colors)."""
    colors = label_colors()
    if value == 0:
        return colors[0]
    return colors[1 + (value - 1) % (len(colors) - 1)]
