"""The control row above a slice view: orientation, window preset, label overlay, fit.

It only shows state and asks for changes (signals); the slice view owns the state and calls the
``show_*`` methods back, so a change made by key, mouse or a synced view shows here too.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QWidget,
)

from gui.widgets.window_level import AUTO_PRESET, FROM_FILE

_ORIENTATIONS = (("axial", "Axial"), ("coronal", "Coronal"), ("sagittal", "Sagittal"))


def _separator(parent: QWidget) -> QFrame:
    line = QFrame(parent)
    line.setFrameShape(QFrame.Shape.VLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


class SliceToolbar(QWidget):
    orientationRequested = Signal(str)
    presetRequested = Signal(str)
    opacityRequested = Signal(float)
    overlayToggled = Signal(bool)
    fitRequested = Signal()

    def __init__(self, preset_names: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(2, 2, 2, 2)
        row.setSpacing(4)

        self.orientation_buttons: dict[str, QToolButton] = {}
        self._orientation_group = QButtonGroup(self)
        self._orientation_group.setExclusive(True)
        for name, text in _ORIENTATIONS:
            button = QToolButton(self)
            button.setText(text)
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setToolTip(f"Show {name} slices")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setProperty("orientation", name)
            self._orientation_group.addButton(button)
            self.orientation_buttons[name] = button
            row.addWidget(button)
        self._orientation_group.buttonClicked.connect(self._on_orientation_clicked)
        row.addWidget(_separator(self))

        row.addWidget(QLabel("W/L", self))
        self.preset_combo = QComboBox(self)
        self.preset_combo.addItems([FROM_FILE, AUTO_PRESET, *preset_names])
        self.preset_combo.setPlaceholderText("Custom W/L")
        self.preset_combo.setToolTip(
            "Window/level: the file's own window (From file), the 0.1-99.9 percentile range (Auto) or a "
            "CT preset (Slicer's values). Drag with the left button in the image to adjust "
            "(left/right: width, up/down: level); R or double-click goes back to the opening window."
        )
        self.preset_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.preset_combo.activated.connect(self._on_preset_activated)
        row.addWidget(self.preset_combo)
        row.addStretch(1)

        self.overlay_button = QToolButton(self)
        self.overlay_button.setText("Labels")
        self.overlay_button.setCheckable(True)
        self.overlay_button.setChecked(True)
        self.overlay_button.setAutoRaise(True)
        self.overlay_button.setToolTip("Show/hide the label overlay (T)")
        self.overlay_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.overlay_button.toggled.connect(self._on_overlay_toggled)
        row.addWidget(self.overlay_button)

        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(50)
        self.opacity_slider.setFixedWidth(90)
        self.opacity_slider.setToolTip("Label overlay opacity")
        self.opacity_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity_slider.valueChanged.connect(self._on_opacity_changed)
        row.addWidget(self.opacity_slider)
        self._opacity_label = QLabel("50%", self)
        self._opacity_label.setMinimumWidth(self._opacity_label.fontMetrics().horizontalAdvance("100%"))
        row.addWidget(self._opacity_label)
        row.addWidget(_separator(self))

        self.fit_button = QToolButton(self)
        self.fit_button.setText("Fit")
        self.fit_button.setAutoRaise(True)
        self.fit_button.setToolTip("Reset zoom and pan to show the whole slice")
        self.fit_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.fit_button.clicked.connect(self._on_fit_clicked)
        row.addWidget(self.fit_button)

    # --- shown state (no signals) ---
    def set_orientation(self, name: str) -> None:
        self.orientation_buttons[name].setChecked(True)

    def show_preset(self, name: str | None) -> None:
        index = self.preset_combo.findText(name) if name else -1
        self.preset_combo.setCurrentIndex(index)

    def set_presets_enabled(self, enabled: dict[str, bool]) -> None:
        """Grey out the presets that do not apply (``enabled[FROM_FILE]``: the file has a window)."""
        model = self.preset_combo.model()
        for i in range(self.preset_combo.count()):
            item = model.item(i)
            name = self.preset_combo.itemText(i)
            on = enabled.get(name, True)
            item.setEnabled(on)
            if name == FROM_FILE:
                item.setToolTip("The window stored in the file (DICOM)" if on else "This file stores no window")
            else:
                item.setToolTip("" if on else "A CT (HU) preset: not offered for this modality")

    def set_overlay_available(self, available: bool) -> None:
        for w in (self.overlay_button, self.opacity_slider, self._opacity_label):
            w.setEnabled(available)

    def show_opacity(self, opacity: float) -> None:
        self.opacity_slider.blockSignals(True)
        self.opacity_slider.setValue(round(opacity * 100))
        self.opacity_slider.blockSignals(False)
        self._opacity_label.setText(f"{round(opacity * 100)}%")

    def show_overlay_visible(self, visible: bool) -> None:
        self.overlay_button.blockSignals(True)
        self.overlay_button.setChecked(visible)
        self.overlay_button.blockSignals(False)

    # --- user actions ---
    @Slot(object)
    def _on_orientation_clicked(self, button: QToolButton) -> None:
        self.orientationRequested.emit(button.property("orientation"))

    @Slot(int)
    def _on_preset_activated(self, index: int) -> None:
        if index >= 0:
            self.presetRequested.emit(self.preset_combo.itemText(index))

    @Slot(int)
    def _on_opacity_changed(self, value: int) -> None:
        self._opacity_label.setText(f"{value}%")
        self.opacityRequested.emit(value / 100.0)

    @Slot(bool)
    def _on_overlay_toggled(self, checked: bool) -> None:
        self.overlayToggled.emit(checked)

    @Slot()
    def _on_fit_clicked(self) -> None:
        self.fitRequested.emit()
