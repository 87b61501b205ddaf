"""The application look: Fusion with a dark palette by default (as Slicer's dark theme), light on
request, and pyqtgraph's background/foreground to match.

Call ``apply_theme`` once, before the main window is built: pyqtgraph reads its colours when a
plot is created.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

_ACCENT = QColor(42, 130, 218)

_DARK = {
    QPalette.ColorRole.Window: QColor(45, 45, 48),
    QPalette.ColorRole.WindowText: QColor(225, 225, 225),
    QPalette.ColorRole.Base: QColor(30, 30, 32),
    QPalette.ColorRole.AlternateBase: QColor(40, 40, 43),
    QPalette.ColorRole.ToolTipBase: QColor(60, 60, 64),
    QPalette.ColorRole.ToolTipText: QColor(235, 235, 235),
    QPalette.ColorRole.PlaceholderText: QColor(140, 140, 140),
    QPalette.ColorRole.Text: QColor(225, 225, 225),
    QPalette.ColorRole.Button: QColor(55, 55, 59),
    QPalette.ColorRole.ButtonText: QColor(225, 225, 225),
    QPalette.ColorRole.BrightText: QColor(255, 90, 90),
    QPalette.ColorRole.Light: QColor(75, 75, 80),
    QPalette.ColorRole.Midlight: QColor(62, 62, 66),
    QPalette.ColorRole.Mid: QColor(50, 50, 54),
    QPalette.ColorRole.Dark: QColor(25, 25, 27),
    QPalette.ColorRole.Shadow: QColor(10, 10, 10),
    QPalette.ColorRole.Link: QColor(90, 165, 240),
    QPalette.ColorRole.LinkVisited: QColor(160, 130, 230),
    QPalette.ColorRole.Highlight: _ACCENT,
    QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
}
# Disabled: dimmed, still readable on the dark background (not the near-black Fusion default).
_DARK_DISABLED = {
    QPalette.ColorRole.WindowText: QColor(128, 128, 128),
    QPalette.ColorRole.Text: QColor(128, 128, 128),
    QPalette.ColorRole.ButtonText: QColor(128, 128, 128),
    QPalette.ColorRole.Highlight: QColor(80, 80, 84),
    QPalette.ColorRole.HighlightedText: QColor(170, 170, 170),
    QPalette.ColorRole.Base: QColor(38, 38, 40),
    QPalette.ColorRole.Button: QColor(48, 48, 51),
    QPalette.ColorRole.PlaceholderText: QColor(100, 100, 100),
}


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in _DARK.items():
        palette.setColor(role, color)
    for role, color in _DARK_DISABLED.items():
        palette.setColor(QPalette.ColorGroup.Disabled, role, color)
    return palette


def light_palette(app: QApplication) -> QPalette:
    palette = app.style().standardPalette()
    palette.setColor(QPalette.ColorRole.Highlight, _ACCENT)
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    return palette


def apply_theme(app: QApplication, dark: bool = True) -> None:
    """Fusion style with the dark (default) or light palette; pyqtgraph colours to match.

    Image views keep a black background in both themes, as every radiology viewer does.
    """
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if dark else light_palette(app))
    app.setProperty("synthvol_dark_theme", bool(dark))
    if dark:
        pg.setConfigOptions(background=(30, 30, 32), foreground=(210, 210, 210))
    else:
        pg.setConfigOptions(background="w", foreground=(40, 40, 40))
