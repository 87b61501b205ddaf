"""Layout at the two window sizes of issue 14 §7: every panel fits 1280 x 720 and 1920 x 1080 (no
widget forces the window wider or taller), the welcome text shows all its lines, and the corner
texts and orientation letters of a narrow slice view never overprint each other."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gui.main_window import MainWindow
from gui.widgets.slice_view import SliceView

SIZES = [(1280, 720), (1920, 1080)]


@pytest.fixture
def window(qtbot, real_data):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.open_dataset(real_data / "head_ct")
    qtbot.waitUntil(
        lambda: w.dataset_panel.result is not None and not w.dataset_panel.is_busy(), timeout=60_000
    )
    qtbot.waitUntil(lambda: w.dataset_panel.viewer.has_volume(), timeout=60_000)
    yield w
    for panel in w.panels.values():
        panel.stop_and_wait()


@pytest.mark.parametrize("size", SIZES)
def test_every_panel_fits_the_window(qtbot, window, size):
    long = "a long caption, as a real run's path and label map names make them " * 4
    gallery = window.gallery_panel
    gallery.compare_pane.setCurrentWidget(gallery.compare_pane.view)
    gallery.compare.set_captions(long, long)  # captions wrap, never widen the window
    gallery.run_label.setText(long)
    window.dataset_panel.path_label.setText(long)
    window.training_panel.context.setText(long)
    window._show_device(long)
    for row in range(window.nav.count()):
        window.nav.setCurrentRow(row)
        window.resize(*size)
        qtbot.wait(30)
        name = window.nav.item(row).text()
        assert (window.width(), window.height()) == size, (
            f"{name} forces the window to {window.size().toTuple()}"
        )
        hint = window.minimumSizeHint()
        assert hint.width() <= size[0] and hint.height() <= size[1], f"{name}: minimum {hint.toTuple()}"


@pytest.mark.parametrize("size", SIZES)
def test_the_welcome_text_shows_all_its_lines(qtbot, size):
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.wait(30)
    from PySide6.QtWidgets import QLabel

    texts = [label for label in w.dataset_panel.welcome.findChildren(QLabel) if label.wordWrap()]
    assert texts
    for label in texts:
        assert label.height() >= label.heightForWidth(label.width()), (
            "the last line of the welcome text is cut"
        )
        assert label.width() <= w.width()


def test_corner_texts_and_letters_never_overlap(qtbot):
    view = SliceView()
    qtbot.addWidget(view)
    image = np.zeros((40, 64, 64), np.float32)
    view.set_volume(
        image,
        (0.957, 0.957, 1.5),
        modality="CT",
        modality_text="CT (from intensities)",
        origin=(0.0, 0.0, 0.0),
    )
    for width in (260, 340, 520):
        view.resize(width, 360)
        view.show()
        qtbot.wait(20)
        a = view.annotations
        shown = [lab for lab in [*a.corners.values(), *a.edges.values()] if lab.text()]
        for one, two in itertools.combinations(shown, 2):
            assert not one.geometry().intersects(two.geometry()), (
                f"at {width} px {one.text()!r} overprints {two.text()!r}"
            )
        for corner in a.corners.values():
            assert corner.geometry().right() <= view.graphics.viewport().width()
        assert a.corner("top_right").startswith("CT (from intensities)")  # the full text is kept


def test_t_reaches_the_shown_viewer_in_the_whole_window(qtbot, window):
    """Several slice views live in the window (Dataset, the Gallery's two): T goes to the one shown."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window.activateWindow()
    viewer, table = window.dataset_panel.viewer, window.dataset_panel.case_table
    table.setFocus()
    QTest.keyClick(table, Qt.Key.Key_T)
    assert not viewer.overlay_visible() and not viewer.legend.isVisible()
    QTest.keyClick(table, Qt.Key.Key_T)
    assert viewer.overlay_visible()
