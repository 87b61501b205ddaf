"""LossPlot: live training curves that stay smooth for hundreds of thousands of iterations.

- ``append()`` only writes into NumPy buffers (amortised O(1)) and marks the plot dirty; a QTimer
  redraws at most ``redraw_hz`` times a second and only when something changed.
- Curves use pyqtgraph's automatic peak downsampling and clip-to-view, so a redraw draws about two
  points per pixel whatever the history length.
- Losses (``loss_*``) on the left axis (optionally log-scaled), drawn smoothed (an exponential
  moving average, as TensorBoard does) over the faint raw values; bounded validation metrics
  (``val_ssim``, ``val_dice``: 0..1) on a right-hand axis; metrics in dB (``val_psnr``) on a second
  right-hand axis, so an SSIM of 0.8 is not flattened by a PSNR of 30.
- A run resumed from an earlier checkpoint logs an iteration again: the points from there on are
  replaced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui.widgets.loss_series import (
    AXIS_LABELS,
    LOSS,
    LossSeries,
    axis_for,
    display_name,
    is_plotted,
    series_order,
    short_name,
    terms_text,
)

_COLORS = {
    "loss_g": "#ff9f43",
    "loss_d": "#4aa3ff",
    "loss_l1": "#2ecc71",
    "val_ssim": "#ffd166",
    "val_psnr": "#ef6f8f",
}
_PALETTE = ("#c77dff", "#00c2c7", "#f4a261", "#a3e048", "#e76f51", "#9aa5b1", "#f15bb5", "#00bbf9")
_SYMBOL_LIMIT = 400  # validation points get markers while there are fewer than this
DEFAULT_SMOOTHING = 0.9


class LossPlot(QWidget):
    def __init__(self, parent: QWidget | None = None, cap: int = 200_000, redraw_hz: float = 8.0) -> None:
        super().__init__(parent)
        self.cap = int(cap)
        self.series: dict[str, LossSeries] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.raw_curves: dict[str, pg.PlotDataItem] = {}  # faint raw losses under the smoothed ones
        self._dirty: set[str] = set()
        self._last_iteration: int | None = None
        self._smoothing = DEFAULT_SMOOTHING

        self.plot_widget = pg.PlotWidget(self)
        self.plot_item = self.plot_widget.getPlotItem()
        self.plot_item.showGrid(x=True, y=True, alpha=0.15)
        self.plot_item.setLabel("bottom", "iteration")
        self.plot_item.setLabel("left", "loss")
        self.plot_item.setMenuEnabled(False)
        self.plot_item.getAxis("bottom").enableAutoSIPrefix(False)
        # PlotItem.addItem applies the plot's own modes to each curve: set them there too.
        self.plot_item.setDownsampling(auto=True, mode="peak")
        self.plot_item.setClipToView(True)
        background = pg.mkColor(pg.getConfigOption("background"))  # the theme's (gui/theme.py)
        background.setAlpha(215)
        edge = pg.mkColor(pg.getConfigOption("foreground"))
        edge.setAlpha(70)
        self.legend = self.plot_item.addLegend(
            offset=(-8, 8), labelTextSize="9pt", brush=pg.mkBrush(background), pen=pg.mkPen(edge)
        )
        self.legend.setColumnCount(2)
        self.boxes: dict[str, pg.ViewBox] = {LOSS: self.plot_item.getViewBox()}
        self.axes: dict[str, pg.AxisItem] = {LOSS: self.plot_item.getAxis("left")}
        self.plot_item.getViewBox().sigResized.connect(self._sync_box_geometry)

        self.smooth_check = QCheckBox("Smooth", self)
        self.smooth_check.setChecked(True)
        self.smooth_check.setToolTip("Show losses as a moving average over the faint raw values")
        self.smooth_check.toggled.connect(self._on_smooth_toggled)
        self.log_check = QCheckBox("Log scale", self)
        self.log_check.setToolTip("Logarithmic loss axis (validation axes stay linear)")
        self.log_check.toggled.connect(self.set_log_scale)
        self.latest = QLabel("No training data yet", self)
        self.latest.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.latest.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        controls = QHBoxLayout()
        controls.setContentsMargins(6, 0, 6, 2)
        controls.addWidget(self.latest, 1)
        controls.addWidget(self.smooth_check)
        controls.addWidget(self.log_check)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.plot_widget, 1)
        layout.addLayout(controls)

        self.timer = QTimer(self)
        self.timer.setInterval(max(1, round(1000 / redraw_hz)))
        self.timer.timeout.connect(self.redraw)

    # ------------------------------------------------------------------ data
    def append(self, iteration: int, values: Mapping[str, float]) -> None:
        """Record one logged step. Cheap: no drawing happens here."""
        x = float(iteration)
        for key, value in values.items():
            if not is_plotted(key):
                continue
            try:
                y = float(value)
            except (TypeError, ValueError):
                continue
            self._series(key).append(x, y)
            self._dirty.add(key)
        self._last_iteration = int(iteration)
        if self._dirty and not self.timer.isActive():
            self.timer.start()

    def load_history(self, records: Iterable[Mapping[str, object]]) -> None:
        """Replace everything with the steps a run logged (a list of dicts with ``iteration``)."""
        self.clear()
        columns: dict[str, tuple[list[float], list[float]]] = {}
        last = None
        for record in records:
            try:
                x = float(record["iteration"])
            except (KeyError, TypeError, ValueError):
                continue
            last = x
            for key, value in record.items():
                if is_plotted(key) and isinstance(value, (int, float)) and not isinstance(value, bool):
                    xs, ys = columns.setdefault(key, ([], []))
                    xs.append(x)
                    ys.append(float(value))
        for key, (xs, ys) in columns.items():
            self._series(key).extend(np.asarray(xs), np.asarray(ys))
            self._dirty.add(key)
        self._last_iteration = None if last is None else int(last)
        self.redraw()
        self.plot_item.enableAutoRange()

    def clear(self) -> None:
        for key, curve in self.curves.items():
            self.legend.removeItem(curve)
            self.boxes[axis_for(key)].removeItem(curve)
        for curve in self.raw_curves.values():
            self.boxes[LOSS].removeItem(curve)
        self.curves.clear()
        self.raw_curves.clear()
        self.series.clear()
        self._dirty.clear()
        self._last_iteration = None
        self.timer.stop()
        self.latest.setText("No training data yet")
        self.plot_item.enableAutoRange()

    def values(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(iterations, raw values) held for ``key`` (views, not copies)."""
        buf = self.series[key].raw
        return buf.x, buf.y

    # ------------------------------------------------------------- drawing
    @Slot()
    def redraw(self) -> None:
        """Push changed series to their curves. Runs on the timer; an idle timer stops itself."""
        if not self._dirty:
            self.timer.stop()
            return
        for key in sorted(self._dirty, key=series_order):
            self._draw(key)
        self._dirty.clear()
        self._update_latest()
        self.plot_widget.setToolTip(terms_text(self.series))

    def _draw(self, key: str) -> None:
        series = self.series[key]
        curve = self._curve(key)
        if axis_for(key) != LOSS:
            curve.setSymbol("o" if len(series.raw) < _SYMBOL_LIMIT else None)
            curve.setData(series.raw.x, series.raw.y)
            return
        raw = self.raw_curves[key]
        # A moving average is drawn with mean downsampling (it is smooth by design); raw values keep
        # peak downsampling, so no spike disappears when zoomed out.
        curve.setDownsampling(auto=True, method="mean" if self._smoothing > 0 else "peak")
        if self._smoothing > 0:
            curve.setData(series.smooth.x, series.smooth.y)
            raw.setData(series.raw.x, series.raw.y)
            raw.setVisible(True)
        else:
            curve.setData(series.raw.x, series.raw.y)
            raw.setVisible(False)

    def _update_latest(self) -> None:
        if self._last_iteration is None:
            return
        parts = [f"iteration {self._last_iteration:,}"]
        for key in sorted(self.series, key=series_order):
            series = self.series[key]
            if len(series.raw):
                parts.append(f"{short_name(key)} {float(series.raw.y[-1]):.4g}")
        self.latest.setText("   ".join(parts))

    def smoothing(self) -> float:
        return self._smoothing

    def set_smoothing(self, weight: float) -> None:
        """Moving-average weight in [0, 1): 0 shows raw losses, 0.9 about a 10-point average."""
        self._smoothing = float(min(max(weight, 0.0), 0.999))
        for key, series in self.series.items():
            if axis_for(key) == LOSS:
                series.set_smoothing(self._smoothing)
                self._dirty.add(key)
        self.smooth_check.blockSignals(True)
        self.smooth_check.setChecked(self._smoothing > 0)
        self.smooth_check.blockSignals(False)
        self.redraw()

    @Slot(bool)
    def _on_smooth_toggled(self, on: bool) -> None:
        self.set_smoothing(DEFAULT_SMOOTHING if on else 0.0)

    @Slot(bool)
    def set_log_scale(self, on: bool) -> None:
        self.plot_item.setLogMode(y=bool(on))
        for axis, item in self.axes.items():  # PlotItem sets every y axis; the metric axes stay linear
            if axis != LOSS:
                item.setLogMode(False, False)
        if self.log_check.isChecked() != bool(on):
            self.log_check.blockSignals(True)
            self.log_check.setChecked(bool(on))
            self.log_check.blockSignals(False)

    def _series(self, key: str) -> LossSeries:
        if key not in self.series:
            smoothing = self._smoothing if axis_for(key) == LOSS else 0.0
            self.series[key] = LossSeries(self.cap, smoothing)
        return self.series[key]

    def _curve(self, key: str) -> pg.PlotDataItem:
        if key in self.curves:
            return self.curves[key]
        axis = axis_for(key)
        color = _COLORS.get(key) or _PALETTE[len(self.curves) % len(_PALETTE)]
        is_loss = axis == LOSS
        curve = self._new_curve(
            pg.mkPen(
                color,
                width=2 if is_loss else 1.5,
                style=Qt.PenStyle.SolidLine if is_loss else Qt.PenStyle.DashLine,
            ),
            symbol=None if is_loss else "o",
            symbolBrush=color,
            symbolPen=None,
            symbolSize=5,
        )
        if is_loss:
            faint = pg.mkColor(color)
            faint.setAlpha(60)
            raw = self._new_curve(pg.mkPen(faint, width=1))
            self.plot_item.addItem(raw)  # PlotItem items follow its log mode
            self.raw_curves[key] = raw
            self.plot_item.addItem(curve)
        else:
            self._box(axis).addItem(curve)
        self.legend.addItem(curve, display_name(key))
        self.curves[key] = curve
        return curve

    @staticmethod
    def _new_curve(pen, **kwargs) -> pg.PlotDataItem:
        curve = pg.PlotDataItem(pen=pen, connect="finite", **kwargs)
        curve.setDownsampling(auto=True, method="peak")
        curve.setClipToView(True)
        return curve

    def _box(self, axis: str) -> pg.ViewBox:
        if axis in self.boxes:
            return self.boxes[axis]
        box = pg.ViewBox()
        box.setMouseEnabled(x=True, y=False)
        box.setXLink(self.plot_item.getViewBox())
        self.plot_item.scene().addItem(box)
        if len(self.boxes) == 1:  # the first right-hand scale uses the plot's own right axis
            self.plot_item.showAxis("right")
            axis_item = self.plot_item.getAxis("right")
        else:  # the second one goes outside it
            axis_item = pg.AxisItem("right")
            self.plot_item.layout.addItem(axis_item, 2, 3)
        axis_item.setLabel(AXIS_LABELS[axis])
        axis_item.enableAutoSIPrefix(False)
        axis_item.linkToView(box)
        box.setZValue(-1)
        self.boxes[axis] = box
        self.axes[axis] = axis_item
        self._sync_box_geometry()
        return box

    @Slot()
    def _sync_box_geometry(self) -> None:
        main = self.plot_item.getViewBox()
        for axis, box in self.boxes.items():
            if axis != LOSS:
                box.setGeometry(main.sceneBoundingRect())
                box.linkedViewChanged(main, box.XAxis)
