"""The utility study's curve in the Quality tab: Dice against the synthetic:real ratio, one line per
label source with its 95 % intervals, the ``real`` and ``real+augmentation`` results as bands
(mean line, interval shaded), ``real+synthetic+augmentation`` as a star at its ratio. The mean Dice
over the labels, or the rare label's. ``study_curves`` reads them out of the quality report's
``utility_study`` (no Qt); the widget only draws."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

MEAN = "mean"
SOURCE_TEXT = {"train": "training maps", "augment": "deformed maps", "rebalance": "rebalanced maps"}
SOURCE_COLORS = {"train": "#4aa3ff", "augment": "#2ecc71", "rebalance": "#c77dff"}
BAND_COLORS = {"real": "#9aa5b1", "real+augmentation": "#ff9f43"}
STAR_COLOR = "#ffd166"


@dataclass
class Point:
    ratio: float
    dice: float
    low: float
    high: float


@dataclass
class StudyCurves:
    lines: dict[str, list[Point]]  # label source -> points by ratio
    bands: dict[str, Point]  # "real" / "real+augmentation" -> its result (ratio unused)
    star: Point | None  # real+synthetic+augmentation
    synthetic: float | None  # synthetic alone


def _score(condition: dict, which: str) -> tuple[float, float, float] | None:
    if which == MEAN:
        mean, ci = condition.get("dice_mean"), condition.get("dice_ci95")
    else:
        entry = (condition.get("per_label") or {}).get(which) or {}
        mean, ci = entry.get("dice_mean"), entry.get("dice_ci95")
    if not isinstance(mean, (int, float)) or not math.isfinite(mean):
        return None
    low, high = (ci if isinstance(ci, (list, tuple)) and len(ci) == 2 and None not in ci else (mean, mean))
    return float(mean), float(low), float(high)


def study_curves(study: dict, which: str = MEAN) -> StudyCurves:
    """The curves of ``which`` (MEAN, or a label name) from a ``utility_study`` section."""
    lines: dict[str, list[Point]] = {}
    bands, star, synthetic = {}, None, None
    for c in study.get("conditions") or []:
        score = _score(c, which)
        if score is None:
            continue
        name = c.get("name")
        if name == "real+synthetic" and isinstance(c.get("ratio"), (int, float)) and c["ratio"] > 0:
            lines.setdefault(str(c.get("label_source")), []).append(Point(float(c["ratio"]), *score))
        elif name in BAND_COLORS and name not in bands:
            bands[name] = Point(0.0, *score)
        elif name == "real+synthetic+augmentation" and isinstance(c.get("ratio"), (int, float)):
            star = Point(float(c["ratio"]), *score)
        elif name == "synthetic":
            synthetic = score[0]
    for points in lines.values():
        points.sort(key=lambda p: p.ratio)
    return StudyCurves(lines, bands, star, synthetic)


class StudyPlot(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.study: dict | None = None
        self.which = QComboBox(self)
        self.which.currentIndexChanged.connect(self._on_which_changed)
        self.note = QLabel("", self)
        self.note.setStyleSheet("color: gray;")
        self.plot_widget = pg.PlotWidget(self)
        self.plot_widget.setMinimumHeight(260)
        self.plot_item = self.plot_widget.getPlotItem()
        self.plot_item.setMenuEnabled(False)
        self.plot_item.setMouseEnabled(x=False, y=False)
        self.plot_item.setLabel("bottom", "synthetic slices per real slice")
        self.plot_item.setLabel("left", "Dice on held-out real slices")
        self.plot_item.showGrid(x=False, y=True, alpha=0.12)
        for axis in ("left", "bottom"):
            self.plot_item.getAxis(axis).enableAutoSIPrefix(False)
        self.legend = self.plot_item.addLegend(offset=(8, 4), labelTextSize="9pt")
        self.legend.setColumnCount(3)
        self.items: dict[str, object] = {}
        top = QHBoxLayout()
        top.addWidget(QLabel("Dice:", self))
        top.addWidget(self.which)
        top.addWidget(self.note, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot_widget, 1)

    def show_study(self, study: dict) -> None:
        self.study = study
        rare = study.get("rare_label")
        self.which.blockSignals(True)
        self.which.clear()
        self.which.addItem("mean over the labels", MEAN)
        if rare:
            self.which.addItem(f"rare label: {rare}", rare)
        self.which.blockSignals(False)
        self.redraw()

    @Slot(int)
    def _on_which_changed(self, _index: int) -> None:
        self.redraw()

    def redraw(self) -> None:
        self.plot_item.clear()
        self.legend.clear()
        self.items.clear()
        if self.study is None:
            return
        curves = study_curves(self.study, str(self.which.currentData() or MEAN))
        # x is log2 of the ratio (0.5, 1, 2, 4 evenly spaced), ticks labelled with the ratios
        ratios = sorted({p.ratio for pts in curves.lines.values() for p in pts} | ({curves.star.ratio} if curves.star else set()))
        x_lo, x_hi = (math.log2(min(ratios)) - 0.5, math.log2(max(ratios)) + 0.5) if ratios else (-2.0, 3.0)
        lows = [b.low for b in curves.bands.values()] + [p.low for pts in curves.lines.values() for p in pts]
        highs = [b.high for b in curves.bands.values()] + [p.high for pts in curves.lines.values() for p in pts]
        for name, band in curves.bands.items():  # the baselines the synthetic data must beat
            color = pg.mkColor(BAND_COLORS[name])
            fill = pg.mkColor(BAND_COLORS[name])
            fill.setAlpha(50)
            low = pg.PlotDataItem([x_lo, x_hi], [band.low, band.low], pen=pg.mkPen(None))
            high = pg.PlotDataItem([x_lo, x_hi], [band.high, band.high], pen=pg.mkPen(None))
            region = pg.FillBetweenItem(low, high, brush=pg.mkBrush(fill))
            mean = pg.PlotDataItem([x_lo, x_hi], [band.dice, band.dice], name=f"{name} {band.dice:.3f}",
                                   pen=pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine))
            for item in (low, high, region, mean):
                self.plot_item.addItem(item)
            self.items[name] = mean
        for source, points in curves.lines.items():
            color = SOURCE_COLORS.get(source, "#f15bb5")
            x = np.log2([p.ratio for p in points])
            y = np.array([p.dice for p in points])
            bars = pg.ErrorBarItem(x=x, y=y, top=np.array([p.high for p in points]) - y,
                                   bottom=y - np.array([p.low for p in points]), beam=0.04, pen=pg.mkPen(color))
            line = pg.PlotDataItem(x, y, pen=pg.mkPen(color, width=2), symbol="o",
                                   symbolBrush=color, symbolPen=None, symbolSize=7,
                                   name=f"real + synthetic ({SOURCE_TEXT.get(source, source)})")
            self.plot_item.addItem(bars)
            self.plot_item.addItem(line)
            self.items[source] = line
        if curves.star is not None:
            star = pg.PlotDataItem([math.log2(curves.star.ratio)], [curves.star.dice], pen=None, symbol="star", symbolSize=16,
                                   symbolBrush=STAR_COLOR, symbolPen=None, name="real + synthetic + augmentation")
            self.plot_item.addItem(star)
            self.items["real+synthetic+augmentation"] = star
        self.note.setText(f"synthetic alone: {curves.synthetic:.3f}" if curves.synthetic is not None else "")
        axis = self.plot_item.getAxis("bottom")
        axis.setTicks([[(math.log2(r), f"{r:g}") for r in ratios]] if ratios else None)
        self.plot_item.setXRange(x_lo, x_hi, padding=0)
        if lows and highs:  # room above the curves for the legend
            lo, hi = min(lows), max(highs)
            span = max(hi - lo, 0.02)
            self.plot_item.setYRange(lo - 0.05 * span, hi + 0.45 * span, padding=0)
