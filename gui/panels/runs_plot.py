"""The Runs view's chart: the validation curve of each ticked run, overlaid on one axis (SSIM, PSNR
or L1 against iteration), one colour per run with its name in the legend."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.evaluation.runs_index import RunSummary

METRICS = (  # key, menu text, axis label
    ("val_ssim", "Validation SSIM (1 = identical)", "SSIM"),
    ("val_psnr", "Validation PSNR (dB)", "PSNR (dB)"),
    ("val_l1", "Validation L1 (lower is better)", "L1"),
)
PALETTE = ("#4aa3ff", "#ff9f43", "#2ecc71", "#ef6f8f", "#c77dff", "#ffd166", "#00c2c7", "#a3e048", "#f15bb5",
           "#9aa5b1")
HINT = "Tick runs in the table to overlay their validation curves."


class RunsPlot(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.metric = QComboBox(self)
        for key, text, _axis in METRICS:
            self.metric.addItem(text, key)
        self.metric.currentIndexChanged.connect(self._on_metric_changed)
        self.hint = QLabel(HINT, self)
        self.hint.setStyleSheet("color: gray;")
        self.plot_widget = pg.PlotWidget(self)
        self.plot_item = self.plot_widget.getPlotItem()
        self.plot_item.setMenuEnabled(False)
        self.plot_item.setLabel("bottom", "iteration")
        for axis in ("bottom", "left"):
            self.plot_item.getAxis(axis).enableAutoSIPrefix(False)
        self.plot_item.showGrid(x=True, y=True, alpha=0.12)
        self.legend = self.plot_item.addLegend(offset=(-8, -8), labelTextSize="9pt")
        self.curves: dict[Path, pg.PlotDataItem] = {}
        self._runs: list[RunSummary] = []
        top = QHBoxLayout()
        top.addWidget(QLabel("Compare:", self))
        top.addWidget(self.metric)
        top.addWidget(self.hint, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot_widget, 1)
        self._update_axis()

    def metric_key(self) -> str:
        return str(self.metric.currentData())

    def set_metric(self, key: str) -> None:
        self.metric.setCurrentIndex(max(0, self.metric.findData(key)))

    def show_runs(self, runs: list[RunSummary]) -> None:
        """Draw the curves of ``runs`` (the ticked ones), in their order."""
        self._runs = list(runs)
        for curve in self.curves.values():
            self.legend.removeItem(curve)
            self.plot_item.removeItem(curve)
        self.curves.clear()
        key = self.metric_key()
        drawn = 0
        for i, run in enumerate(self._runs):
            its, values = run.curves.get(key, ((), ()))
            if len(its) == 0:
                continue
            color = PALETTE[i % len(PALETTE)]
            curve = pg.PlotDataItem(its, values, pen=pg.mkPen(color, width=2), symbol="o" if len(its) < 60 else None,
                                    symbolSize=5, symbolBrush=color, symbolPen=None, name=run.name)
            self.plot_item.addItem(curve)
            self.curves[run.folder] = curve
            drawn += 1
        missing = len(self._runs) - drawn
        if not self._runs:
            self.hint.setText(HINT)
        elif missing:
            self.hint.setText(f"{missing} ticked run(s) logged no {self.metric.currentText().split(' (')[0]} yet.")
        else:
            self.hint.setText("")
        self.plot_item.enableAutoRange()

    def _update_axis(self) -> None:
        self.plot_item.setLabel("left", METRICS[max(0, self.metric.currentIndex())][2])

    @Slot(int)
    def _on_metric_changed(self, _index: int) -> None:
        self._update_axis()
        self.show_runs(self._runs)
