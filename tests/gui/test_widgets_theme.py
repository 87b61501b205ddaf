"""apply_theme: Fusion, a dark palette with readable disabled text, pyqtgraph colours to match."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QPalette

from gui.theme import apply_theme


@pytest.fixture
def app(qapp):
    style, palette = qapp.style().name(), qapp.palette()
    options = {k: pg.getConfigOption(k) for k in ("background", "foreground")}
    yield qapp
    qapp.setStyle(style)
    qapp.setPalette(palette)
    pg.setConfigOptions(**options)


def test_dark_theme_by_default(app):
    apply_theme(app)
    assert app.style().name().lower() == "fusion"
    pal = app.palette()
    window = pal.color(QPalette.ColorRole.Window)
    text = pal.color(QPalette.ColorRole.WindowText)
    disabled = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    assert window.lightness() < 80 and text.lightness() > 200
    assert 40 < disabled.lightness() - window.lightness() < text.lightness() - window.lightness()
    assert pal.color(QPalette.ColorRole.Highlight) != window
    assert pg.getConfigOption("background") == (30, 30, 32)
    assert pg.mkColor(pg.getConfigOption("foreground")).lightness() > 180


def test_light_theme_on_request(app):
    apply_theme(app, dark=False)
    assert app.palette().color(QPalette.ColorRole.Window).lightness() > 180
    assert pg.getConfigOption("background") == "w"
