"""LossPlot: NumPy ring buffers, timer redraws, downsampled and clipped curves, the validation axes,
metrics.jsonl history with resumed runs."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from gui.widgets.loss_plot import LossPlot
from gui.widgets.loss_series import moving_average
from gui.widgets.series_buffer import SeriesBuffer


@pytest.fixture
def plot(qtbot):
    p = LossPlot()
    qtbot.addWidget(p)
    p.resize(800, 400)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_series_buffer_grows_by_doubling_up_to_its_cap():
    buf = SeriesBuffer(cap=5000, initial=16)
    for i in range(100):
        buf.append(i, i * 2)
    assert len(buf) == 100 and buf.capacity == 128
    assert buf.x.flags.c_contiguous and buf.y[-1] == 198
    for i in range(100, 12_345):
        buf.append(i, i * 2)
    assert len(buf) == 5000 and buf.capacity <= 2 * 5000
    assert buf.x[0] == 12_345 - 5000 and buf.x[-1] == 12_344
    assert np.all(np.diff(buf.x) == 1)
    buf.truncate_from(12_000)
    assert buf.last_x() == 11_999
    buf.extend(np.arange(20_000, 30_000), np.zeros(10_000))
    assert len(buf) == 5000 and buf.x[0] == 25_000


def test_100k_iterations_stay_cheap_to_draw(plot, qtbot):
    rng = np.random.default_rng(0)
    n = 100_000
    noise = rng.normal(size=n)
    for i in range(n):
        values = {"loss_g": 1.0 + 0.1 * noise[i], "loss_d": 0.7, "loss_l1": math.exp(-i / n)}
        if i % 1000 == 0:
            values["val_ssim"] = 0.5 + i / (4 * n)
        plot.append(i, values)
    assert plot.timer.isActive()  # append only marks the plot dirty
    plot.redraw()
    qtbot.wait(50)  # the view auto-ranges to the new data before it paints
    x, _ = plot.values("loss_g")
    assert len(x) == n and x[-1] == n - 1

    raw = plot.raw_curves["loss_g"]
    assert raw.opts["autoDownsample"] and raw.opts["downsampleMethod"] == "peak"
    assert raw.opts["clipToView"]
    assert len(raw.getOriginalDataset()[0]) == n
    shown_x, _ = raw.getData()
    assert len(shown_x) < n / 5  # about two points per screen pixel, not 100k

    plot.append(n, {"loss_g": 1.0, "loss_d": 0.7, "loss_l1": 0.3})
    start = time.perf_counter()
    plot.redraw()  # one timer tick with 100k points per series, and the paint that follows
    plot.plot_widget.viewport().repaint()
    assert time.perf_counter() - start < 1.0  # a generous bound; benchmarks/ has the figures

    plot.plot_item.setXRange(0, 10_000, padding=0)
    qtbot.wait(50)
    shown_x, _ = raw.getData()
    assert shown_x.max() < 12_000  # clipped to the visible iterations


def test_validation_metrics_use_their_own_right_hand_axes(plot):
    plot.append(1, {"loss_g": 2.0, "val_ssim": 0.8, "val_psnr": 25.0, "lr": 0.001, "note": "x"})
    plot.redraw()
    main = plot.plot_item.getViewBox()
    assert plot.curves["loss_g"].getViewBox() is main
    assert plot.curves["val_ssim"].getViewBox() is plot.boxes["metric"] is not main
    assert plot.curves["val_psnr"].getViewBox() is plot.boxes["decibel"]
    assert plot.axes["metric"] is plot.plot_item.getAxis("right") and plot.axes["metric"].isVisible()
    assert plot.axes["metric"].linkedView() is plot.boxes["metric"]
    assert "lr" not in plot.curves and "note" not in plot.curves
    names = [label.text for _, label in plot.legend.items]
    assert names == ["Generator", "SSIM (validation)", "PSNR dB (validation)"]

    plot.set_log_scale(True)
    assert plot.curves["loss_g"].opts["logMode"][1]
    assert not plot.axes["metric"].logMode and not plot.axes["decibel"].logMode
    assert plot.log_check.isChecked()


def test_load_history_replaces_points_of_a_resumed_run(plot):
    records = [{"iteration": i, "loss_g": float(i), "time": 0.1 * i} for i in range(1, 11)]
    records += [{"iteration": i, "loss_g": 100.0 + i} for i in range(6, 9)]  # resumed from 5
    records += [{"loss_g": 1.0}, {"iteration": 9, "val_ssim": 0.9, "flag": True}]
    plot.append(999, {"loss_d": 1.0})
    plot.load_history(records)
    x, y = plot.values("loss_g")
    assert list(x) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert list(y) == [1, 2, 3, 4, 5, 106, 107, 108]
    assert "loss_d" not in plot.series and "flag" not in plot.series
    assert list(plot.values("val_ssim")[0]) == [9]
    assert plot.latest.text().startswith("iteration 9")
    assert len(plot.curves["loss_g"].getOriginalDataset()[0]) == 8


def test_live_appends_redraw_on_the_timer_and_resume_truncates(plot, qtbot):
    for i in range(10):
        plot.append(i, {"loss_g": float(i)})
    qtbot.waitUntil(
        lambda: "loss_g" in plot.curves and len(plot.curves["loss_g"].getOriginalDataset()[0]) == 10
    )
    qtbot.waitUntil(lambda: not plot.timer.isActive(), timeout=2000)  # idle: the timer stops itself
    plot.append(4, {"loss_g": -1.0})  # a resumed run logs iteration 4 again
    assert list(plot.values("loss_g")[0]) == [0, 1, 2, 3, 4]
    plot.append(5, {"loss_g": float("nan")})
    assert math.isnan(plot.values("loss_g")[1][-1])
    plot.clear()
    assert plot.curves == {} and plot.latest.text() == "No training data yet"


def test_smoothing_is_an_exponential_moving_average(plot):
    y = np.array([1.0, 3.0, np.nan, 2.0, 10.0])
    for i, v in enumerate(y):
        plot.append(i, {"loss_g": v})
    plot.redraw()
    expected, s = [], None
    for v in y:
        if math.isnan(v):
            expected.append(math.nan)
            continue
        s = v if s is None else 0.9 * s + 0.1 * v
        expected.append(s)
    np.testing.assert_allclose(plot.series["loss_g"].smooth.y, expected)
    np.testing.assert_allclose(moving_average(y, 0.9)[0], expected)
    np.testing.assert_allclose(plot.curves["loss_g"].getOriginalDataset()[1], expected)
    assert plot.raw_curves["loss_g"].isVisible()
    plot.smooth_check.setChecked(False)
    np.testing.assert_allclose(plot.curves["loss_g"].getOriginalDataset()[1], y)
    assert not plot.raw_curves["loss_g"].isVisible()
