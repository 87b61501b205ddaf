"""Main window: menus and shortcuts, settings kept between sessions, drag and drop, log view and
log file, screenshots from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent, QKeySequence

from engine.resources import DEMO_DATASET
from gui import settings as st
from gui.main_window import MainWindow

REPO = Path(__file__).resolve().parents[2]


def _actions(menu):
    return {a.text(): a for a in menu.actions()}


def test_menus_and_standard_shortcuts(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    menus = {m.title().replace("&", ""): m for m in (a.menu() for a in w.menuBar().actions()) if m}
    assert set(menus) == {"File", "View", "Help"}
    file_actions = _actions(menus["File"])
    assert file_actions["Open dataset…"].shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert "Recent datasets" in file_actions and "Open run…" in file_actions
    assert file_actions["Quit"].shortcut() == QKeySequence(QKeySequence.StandardKey.Quit)
    view = _actions(menus["View"])
    assert view["Log"].shortcut() == QKeySequence("Ctrl+0")
    assert view["Dataset"].shortcut() == QKeySequence("Ctrl+1")
    assert set(_actions(menus["Help"])) >= {"Keyboard shortcuts", "About SynthVol"}
    assert not w.log_dock.isVisible()
    w.show()
    view["Log"].trigger()
    assert w.log_dock.isVisible()
    view["Gallery"].trigger()
    assert w.stack.currentWidget() is w.gallery_panel


def test_log_view_and_log_file_mirror_the_log(qtbot):
    import logging

    w = MainWindow()
    qtbot.addWidget(w)
    logging.getLogger("synthvol.test").warning("a message for the log view")
    qtbot.waitUntil(lambda: any("a message for the log view" in line for line in w.log_view.lines()), timeout=5000)
    w.close()
    assert "a message for the log view" in st.log_file().read_text(encoding="utf-8")


def test_settings_and_recent_datasets_survive_a_restart(qtbot, tmp_path, monkeypatch):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.resize(1210, 830)
    qtbot.wait(50)
    saved = bytes(w.saveGeometry())
    w.open_dataset(DEMO_DATASET)
    qtbot.waitUntil(lambda: w.dataset_panel.result is not None and not w.dataset_panel.is_busy(), timeout=60_000)
    w.close()
    restored = []
    monkeypatch.setattr(MainWindow, "restoreGeometry", lambda self, g: restored.append(bytes(g)) or True)
    again = MainWindow()
    qtbot.addWidget(again)
    # (the offscreen screen is small, so Qt would clamp the size: check what the window hands Qt)
    assert restored == [saved]
    recent = [a.text() for a in again.recent_menu.actions()]
    assert recent and recent[0] == str(DEMO_DATASET)
    assert st.read_bool(again.settings, "ui/dark", True) is True  # an INI "true" string read as a bool


def test_dropping_a_folder_opens_it(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(DEMO_DATASET))])
    event = QDropEvent(QPoint(10, 10).toPointF(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    w.dropEvent(event)
    qtbot.waitUntil(lambda: w.dataset_panel.result is not None and not w.dataset_panel.is_busy(), timeout=60_000)
    assert w.dataset_panel.result.root == DEMO_DATASET


def test_screenshot_command_writes_every_panel(tmp_path):
    from engine.training.trainer import train
    from tests.engine.training_helpers import tiny_config

    train(tiny_config(tmp_path / "run", iterations=4))
    out = tmp_path / "shots" / "win.png"
    result = subprocess.run([sys.executable, "main.py", "gui", "--screenshot", str(out), "--run", str(tmp_path / "run")],
                            cwd=REPO, capture_output=True, text=True, timeout=600,
                            env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("win.png", "win-dataset.png", "win-training.png", "win-gallery.png", "win-welcome.png"):
        path = out.parent / name
        assert path.is_file() and path.stat().st_size > 20_000, name
    from PySide6.QtGui import QImage

    img = QImage(str(out.parent / "win-gallery.png"))
    assert img.width() >= 1200 and img.height() >= 800
