"""The training chart a clinician sees first: one quality curve (validation SSIM against the real
held-out slices) over bands that say what good looks like, the run's state in plain words above it
("Learning", "Levelled off", "Unstable — lower the learning rate"), and the latest SSIM and PSNR
with their yardsticks. The judgement itself is engine.evaluation.training_state (no Qt)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from engine.evaluation.training_state import TrainingState, grade
from engine.evaluation.verdicts import PSNR_GOOD, SSIM_FAIR, SSIM_GOOD

STATE_COLORS = {"starting": "#a0a0a0", "learning": "#6cc070", "levelled": "#e0b84a", "unstable": "#eb6e64"}
GRADE_COLORS = {"good": (80, 170, 90), "fair": (210, 170, 60), "poor": (200, 80, 70)}
SSIM_TIP = (
    "Validation SSIM: how closely the generator's image of a held-out label map matches the real scan "
    "of that map (structure, contrast, brightness), from 0 (unrelated) to 1 (identical). A generator "
    "draws its own texture, so even a perfect one stays below 1. Bands: the quality report's yardstick "
    f"(good ≥ {SSIM_GOOD}, poor < {SSIM_FAIR}); this curve covers whole slices, air included, so it "
    "reads a little higher than the report's SSIM inside the body."
)
PSNR_TIP = (
    "PSNR (peak signal-to-noise ratio, in dB): how small the pixel differences from the real scan are; "
    f"higher is closer. {PSNR_GOOD:g} dB or more is good."
)


def _band(low: float, high: float, colour: tuple[int, int, int]) -> pg.LinearRegionItem:
    band = pg.LinearRegionItem(
        (low, high),
        orientation="horizontal",
        movable=False,
        brush=pg.mkBrush(*colour, 38),
        pen=pg.mkPen(None),
    )
    band.setZValue(-10)
    for line in band.lines:
        line.setPen(pg.mkPen(None))
    return band


class QualityCurve(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.xs: list[float] = []
        self.ssim: list[float] = []
        self.psnr: list[float] = []
        self.headline = QLabel("No training yet", self)
        font = self.headline.font()
        font.setPointSize(font.pointSize() + 5)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setToolTip(
            "The run's state, judged from the quality curve and the losses: Learning (still improving), "
            "Levelled off (more iterations change little), Unstable (the quality fell or swings, or a loss "
            "diverged: lower the learning rate in Advanced settings and resume)."
        )
        self.detail = QLabel("Start training, or open a run (File ▸ Open run…).", self)
        self.detail.setWordWrap(True)
        self.detail.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout = QLabel("", self)
        self.readout.setWordWrap(True)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout.setToolTip(f"{SSIM_TIP}\n\n{PSNR_TIP}")

        self.plot_widget = pg.PlotWidget(self)
        self.plot_widget.setToolTip(SSIM_TIP)
        item = self.plot_widget.getPlotItem()
        item.setMenuEnabled(False)
        item.showGrid(x=True, y=True, alpha=0.12)
        item.setLabel("bottom", "iteration")
        item.setLabel("left", "quality (validation SSIM)")
        item.getAxis("bottom").enableAutoSIPrefix(False)
        item.setYRange(0.0, 1.0, padding=0.02)
        item.setMouseEnabled(x=True, y=False)
        for low, high, key in (
            (0.0, SSIM_FAIR, "poor"),
            (SSIM_FAIR, SSIM_GOOD, "fair"),
            (SSIM_GOOD, 1.0, "good"),
        ):
            item.addItem(_band(low, high, GRADE_COLORS[key]))
            text = pg.TextItem(
                key, color=(*GRADE_COLORS[key], 230), anchor=(1, 1.2 if key == "good" else 0.5)
            )
            text.setPos(0, (low + high) / 2)
            text.setZValue(-5)
            item.addItem(text)
            setattr(self, f"_{key}_text", text)
        self.curve = pg.PlotDataItem(
            pen=pg.mkPen("#ffd166", width=2.5),
            symbol="o",
            symbolSize=7,
            symbolBrush="#ffd166",
            symbolPen=None,
        )
        item.addItem(self.curve)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addWidget(self.headline)
        layout.addWidget(self.detail)
        layout.addWidget(self.readout)
        layout.addWidget(self.plot_widget, 1)

    # ------------------------------------------------------------------ data
    def add_point(self, iteration: float, ssim: float, psnr: float | None = None) -> None:
        """One validation; a resumed run that validates an iteration again replaces from there."""
        while self.xs and self.xs[-1] >= iteration:
            self.xs.pop(), self.ssim.pop(), self.psnr.pop()
        self.xs.append(float(iteration))
        self.ssim.append(float(ssim))
        self.psnr.append(float("nan") if psnr is None else float(psnr))
        self._redraw()

    def set_points(self, xs, ssim, psnr) -> None:
        self.xs, self.ssim, self.psnr = (
            [float(v) for v in xs],
            [float(v) for v in ssim],
            [float(v) for v in psnr],
        )
        self._redraw()

    def clear(self) -> None:
        self.xs, self.ssim, self.psnr = [], [], []
        self._redraw()
        self.headline.setText("No training yet")
        self.headline.setStyleSheet("")
        self.detail.setText("Start training, or open a run (File ▸ Open run…).")

    def show_state(self, state: TrainingState) -> None:
        self.headline.setText(state.headline)
        self.headline.setStyleSheet(f"color: {STATE_COLORS.get(state.state, '#a0a0a0')};")
        self.detail.setText(state.detail)

    def _redraw(self) -> None:
        self.curve.setData(np.asarray(self.xs), np.asarray(self.ssim))
        right = self.xs[-1] if self.xs else 1.0
        for key in ("poor", "fair", "good"):  # the band names at the right edge, clear of the curve's start
            text = getattr(self, f"_{key}_text")
            text.setPos(right, text.pos().y())
        item = self.plot_widget.getPlotItem()
        item.setXRange(self.xs[0] if len(self.xs) > 1 else 0.0, right, padding=0.04)
        if not self.xs:
            self.readout.setText("")
            return
        s, p = self.ssim[-1], self.psnr[-1]
        parts = [f"SSIM {s:.3f} {_graded(grade(s))} (good ≥ {SSIM_GOOD})"]
        if np.isfinite(p):
            parts.append(f"PSNR {p:.1f} dB {_graded(grade(1.0, p))} (good ≥ {PSNR_GOOD:g} dB)")
        self.readout.setText(f"Iteration {int(self.xs[-1]):,}:  " + "   ·   ".join(parts))
        self.readout.setTextFormat(Qt.TextFormat.RichText)


def _graded(level: str) -> str:
    """``<b>good</b>`` in its grade's colour (rich text)."""
    if not level:
        return ""
    colour = "#{:02x}{:02x}{:02x}".format(*GRADE_COLORS[level])
    return f"<b style='color:{colour}'>{level}</b>"
