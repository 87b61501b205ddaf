"""The training panel's charts: the quality curve with the run's state in plain words (the default,
for clinicians) and, one click away, every loss on its own axes (for engineers). Both are fed from
the same appends; the state is judged again at each validation (engine.evaluation.training_state)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from engine.evaluation.training_state import assess
from gui.widgets.loss_plot import LossPlot
from gui.widgets.quality_curve import QualityCurve

_LOSS_TAIL = 4000  # the newest logged losses the state looks at
SHOW_LOSSES = "All losses (for engineers) ▸"
SHOW_QUALITY = "◂ Quality curve"


class TrainingCharts(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.quality = QualityCurve(self)
        self.losses = LossPlot(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.quality)
        self.stack.addWidget(self.losses)
        self.toggle = QPushButton(SHOW_LOSSES, self)
        self.toggle.setCheckable(True)
        self.toggle.setFlat(True)
        self.toggle.setToolTip("Switch between the quality curve and every training loss on its own axes")
        self.toggle.toggled.connect(self.show_losses)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addStretch(1)
        top.addWidget(self.toggle)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)

    @property
    def timer(self):
        return self.losses.timer

    @Slot(bool)
    def show_losses(self, on: bool) -> None:
        self.stack.setCurrentWidget(self.losses if on else self.quality)
        self.toggle.blockSignals(True)
        self.toggle.setChecked(bool(on))
        self.toggle.blockSignals(False)
        self.toggle.setText(SHOW_QUALITY if on else SHOW_LOSSES)

    def showing_losses(self) -> bool:
        return self.stack.currentWidget() is self.losses

    # ------------------------------------------------------------------ data
    def append(self, iteration: int, values: Mapping[str, float]) -> None:
        self.losses.append(iteration, values)
        new_point = "val_ssim" in values
        if new_point:
            self.quality.add_point(iteration, float(values["val_ssim"]), _float(values.get("val_psnr")))
        diverged = any(k in values and not np.isfinite(_float(values[k], 0.0)) for k in ("loss_g", "loss_d"))
        if new_point or diverged:
            self.reassess()

    def load_history(self, records: Iterable[Mapping[str, object]]) -> None:
        records = list(records)
        self.losses.load_history(records)
        points = [r for r in records if isinstance(r.get("val_ssim"), (int, float))]
        self.quality.set_points(
            [r["iteration"] for r in points],
            [r["val_ssim"] for r in points],
            [_float(r.get("val_psnr")) for r in points],
        )
        self.reassess()

    def clear(self) -> None:
        self.losses.clear()
        self.quality.clear()

    def redraw(self) -> None:
        self.losses.redraw()

    def reassess(self) -> None:
        """Judge the run again from the quality points and the newest losses."""
        tails = []
        for key in ("loss_g", "loss_d"):
            tails.append(self.losses.values(key)[1][-_LOSS_TAIL:] if key in self.losses.series else ())
        self.quality.show_state(assess(self.quality.xs, self.quality.ssim, *tails))


def _float(value, default: float = float("nan")) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
