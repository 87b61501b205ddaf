"""`python main.py` on a machine that cannot show the window (issue 14 §9): before Qt is imported,
the xcb platform is checked; no display or a missing system library is said in words with the
install command (exit 3), never Qt's "could not load the Qt platform plugin" abort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gui import app, platform_check

REPO = Path(__file__).resolve().parents[2]


def test_the_platform_qt_will_pick():
    assert app.qt_platform({}, "linux") == "xcb"
    assert app.qt_platform({"WAYLAND_DISPLAY": "wayland-0"}, "linux") == "wayland"
    assert app.qt_platform({"QT_QPA_PLATFORM": "offscreen"}, "linux") == "offscreen"
    assert app.qt_platform({"QT_QPA_PLATFORM": "xcb;wayland"}, "linux") == "xcb"
    assert app.qt_platform({}, "darwin") == ""
    assert app.window_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None


def test_no_display_is_said_in_words_before_qt_starts():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    run = subprocess.run(
        [sys.executable, "main.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == app.EXIT_NO_WINDOW
    assert "no display (DISPLAY is not set)" in run.stderr and "xvfb-run" in run.stderr
    assert "qt.qpa" not in run.stderr and "Traceback" not in run.stderr
    env["QT_QPA_PLATFORM"] = "xcb"
    run = subprocess.run(
        [sys.executable, "main.py", "gui"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == app.EXIT_NO_WINDOW and "DISPLAY" in run.stderr


def test_missing_xcb_libraries_stop_with_the_install_command(monkeypatch, capsys):
    missing = platform_check.PlatformReport(Path("libqxcb.so"), ["libxcb-cursor.so.0", "libxcb-icccm.so.4"])
    monkeypatch.setattr(platform_check, "check", lambda *a, **k: missing)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    import gui.main_window

    def no_window(*_a, **_k):
        raise AssertionError("the window must not be built when the platform cannot start")

    monkeypatch.setattr(gui.main_window, "MainWindow", no_window)
    assert app.run_gui([]) == app.EXIT_NO_WINDOW
    err = capsys.readouterr().err
    assert "cannot open its window" in err
    assert "apt-get install -y libxcb-cursor0 libxcb-icccm4" in err


def test_this_machine_passes_the_check_with_a_display():
    # the CI machine has the libraries (tests/gui/test_real_window_xcb.py opens the real window)
    assert app.window_problem({"DISPLAY": ":99"}, "linux") is None


@pytest.mark.parametrize("bad", ["12x", "1280x", "axb", "100x100"])
def test_bad_screenshot_sizes_are_refused(bad):
    with pytest.raises(SystemExit):
        app.parse_args(["--screenshot", "x.png", "--size", bad])
    assert app.parse_args(["--screenshot", "x.png", "--size", "1280x720,1920x1080"]).sizes == [
        (1280, 720),
        (1920, 1080),
    ]
