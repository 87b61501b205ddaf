"""Where the bundled resources live (colour table, W/L presets, demo dataset)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"
DEMO_DATASET = RESOURCES_DIR / "demo"


@cache
def label_colors() -> tuple[tuple[int, int, int], ...]:
    data = json.loads((RESOURCES_DIR / "label_colors.json").read_text(encoding="utf-8"))
    return tuple(tuple(int(c) for c in rgb) for rgb in data["colors"])  # type: ignore[misc]


def color_for_label(value: int) -> tuple[int, int, int]:
    colors = label_colors()
    if value == 0:
        return colors[0]
    return colors[1 + (value - 1) % (len(colors) - 1)]
