"""The real window on Qt's xcb platform under Xvfb (issue 14 §9): what a fresh machine needs to open
SynthVol, checked the way a user meets it, not on the offscreen platform the other GUI tests use.

CI (.ci/run) installs xvfb and the xcb libraries; on a machine without them this test fails with the
install command, it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gui import platform_check

REPO = Path(__file__).resolve().parents[2]

WINDOW_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from PySide6.QtCore import QCoreApplication, QEventLoop
    from PySide6.QtWidgets import QApplication
    from gui.main_window import MainWindow
    from gui.theme import apply_theme
    from engine.resources import DEMO_DATASET

    app = QApplication(sys.argv[:1])
    print("platform", app.platformName(), flush=True)
    apply_theme(app, dark=True)
    window = MainWindow()
    window.resize(1280, 720)
    window.move(0, 0)
    window.show()
    window.open_dataset(DEMO_DATASET)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        panel = window.dataset_panel
        if window.isVisible() and window.windowHandle().isExposed() and panel.result is not None and not panel.is_busy():
            break
        time.sleep(0.02)
    for _ in range(30):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.02)
    print("exposed", window.windowHandle().isExposed(), flush=True)
    # what the X server shows on its screen, not what Qt renders into a buffer
    app.primaryScreen().grabWindow(0).save(sys.argv[1])
    window.close()
    """
)


def test_the_xcb_platform_has_every_system_library():
    report = platform_check.check()
    assert report.ok, report.message()


def test_missing_libraries_are_named_with_the_install_command():
    report = platform_check.PlatformReport(
        Path("libqxcb.so"), ["libxcb-icccm.so.4", "libxcb-cursor.so.0", "libfoo.so.2"]
    )
    text = report.message()
    assert "libxcb-icccm4" in text and "libxcb-cursor0" in text and "libfoo2" in text
    assert "apt-get install -y" in text


def test_real_window_on_xcb_under_xvfb(tmp_path):
    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is not installed: apt-get install -y xvfb xauth (as .ci/run does)"
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as fh:
            display = fh.readline().strip()
        assert display, "Xvfb did not start"
        env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
        env.update(DISPLAY=f":{display}", QT_QPA_PLATFORM="xcb", PYTHONPATH=str(REPO))
        shot = tmp_path / "screen.png"
        run = subprocess.run(
            [sys.executable, "-c", WINDOW_SCRIPT, str(shot)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "platform xcb" in run.stdout
    assert "exposed True" in run.stdout
    from PySide6.QtGui import QImage

    image = QImage(str(shot))
    assert image.width() == 1280 and image.height() == 720
    # the dark window fills the screen: many distinct colours (text, table, slice), not a blank root
    colours = {image.pixel(x, y) for x in range(0, 1280, 16) for y in range(0, 720, 16)}
    assert len(colours) > 50, f"only {len(colours)} colours on the X screen"


@pytest.mark.parametrize("argv", [["--quiet"]])
def test_platform_check_command_exits_zero_when_complete(argv):
    run = subprocess.run(
        [sys.executable, "-m", "gui.platform_check", *argv], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
