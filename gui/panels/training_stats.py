"""The figures above the training charts (state, iteration, speed, time left, quality, device), each
with a tooltip that says what it means, in two rows of three so none is clipped at 1280 px."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

STAT_TITLES = {  # key -> (title, what it means)
    "state": ("State", "What the training is doing now: preparing data, training, paused, stopping or idle"),
    "iteration": (
        "Iteration",
        "Training steps done / planned: one step shows the generator a batch of slices",
    ),
    "speed": ("Speed", "Training steps per second on this computer"),
    "eta": ("Time left", "Estimated time to the last step at the current speed (blank while paused or idle)"),
    "ssim": (
        "Quality",
        "The latest validation SSIM and PSNR: the generated image against the real scan of "
        "held-out label maps (higher is closer), graded good / fair / poor",
    ),
    "device": (
        "Device",
        "The processor training runs on, as the engine reports it (for a CPU: its cores and "
        "the compute threads used)",
    ),
}


def format_eta(seconds: float) -> str:
    """``1:02:03`` / ``4:05``; blank when unknown (negative)."""
    if seconds < 0:
        return ""
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def same_path(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return Path(a) == Path(b)


class TrainingStats(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: dict[str, QLabel] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 4, 0, 4)
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(0)
        for i, (key, (title, tip)) in enumerate(STAT_TITLES.items()):
            t = QLabel(title, self)
            t.setStyleSheet("color: gray;")
            t.setToolTip(tip)
            value = QLabel("–", self)
            value.setToolTip(tip)
            value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            value.setWordWrap(True)  # a long device name takes two lines rather than being cut
            value.setMinimumWidth(value.fontMetrics().horizontalAdvance("00,000 / 00,000"))
            value.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            grid.addWidget(t, 2 * (i // 3), i % 3)
            grid.addWidget(value, 2 * (i // 3) + 1, i % 3)
            self.values[key] = value
        for column in range(3):
            grid.setColumnStretch(column, 1)

    def reset(self) -> None:
        for key, label in self.values.items():
            label.setText("–")
            label.setToolTip(STAT_TITLES[key][1])

    def set_tooltip_detail(self, key: str, detail: str) -> None:
        """The meaning of the figure and its full text (for one the width may cut short)."""
        self.values[key].setToolTip(f"{STAT_TITLES[key][1]}.\n{detail}")
