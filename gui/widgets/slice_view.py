"""SliceView: an axial / coronal / sagittal viewer of one 3-D volume with a label overlay.

Behaviour follows 3D Slicer (see gui/widgets/slice_interaction.py for the mouse and
gui/widgets/slice_geometry.py for the screen layout: axial shows anterior at the top and the
patient's right on the left of the screen).

Keys (when the view has focus): Up/Right next slice, Down/Left previous, PgUp/PgDn 10 slices,
Home/End first/last, R resets window/level, T shows/hides the label overlay.
Ctrl+double-click (or a plain double-click, as in Slicer) also resets window/level.

Every redraw reads one slice of the volume (a NumPy view made contiguous), never the whole volume.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QSlider, QVBoxLayout, QWidget

from engine.data.labels import LabelTable
from gui.widgets import window_level as wl
from gui.widgets.label_overlay import LabelLayer, LabelLegend
from gui.widgets.slice_geometry import ORIENTATIONS, SliceLayout, layout_for
from gui.widgets.slice_interaction import SliceViewBox, key_action
from gui.widgets.slice_texts import probe_text, slice_text, volume_text
from gui.widgets.slice_toolbar import SliceToolbar
from gui.widgets.slice_window_level import SliceWindowLevel
from gui.widgets.view_annotations import ViewAnnotations
from gui.widgets.volume_input import checked_volume


class SliceView(SliceWindowLevel, QWidget):
    """One volume, one orientation at a time. Slice indices are 0-based; the corner text is 1-based."""

    sliceChanged = Signal(int)
    windowChanged = Signal(float, float)  # center, width
    orientationChanged = Signal(str)
    overlayOpacityChanged = Signal(float)
    overlayVisibleChanged = Signal(bool)

    def __init__(
        self, parent: QWidget | None = None, presets: dict[str, wl.WindowPreset] | None = None
    ) -> None:
        super().__init__(parent)
        self._presets = wl.load_presets() if presets is None else dict(presets)
        self._image: np.ndarray | None = None
        self._label: np.ndarray | None = None
        self._spacing = (1.0, 1.0, 1.0)
        self._origin: tuple[float, float, float] | None = None
        self._direction: np.ndarray | None = None
        self._modality: str | None = None
        self._modality_text: str | None = None
        self._orientation = "axial"
        self._layout: SliceLayout = layout_for("axial", self._spacing)
        self._indices = dict.fromkeys(ORIENTATIONS, 0)
        self._window = (0.5, 1.0)
        self._windows = wl.VolumeWindow()
        self._opacity = 0.5
        self._overlay_visible = True
        self._legend_shown = True
        self._probe_pos: QPointF | None = None

        self.toolbar = SliceToolbar(list(self._presets), self)
        self.graphics = pg.GraphicsView(self)
        self.graphics.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.graphics.setBackground("k")
        self.graphics.setMinimumSize(160, 160)
        self.view_box = SliceViewBox()
        self.graphics.setCentralItem(self.view_box)
        self.legend = LabelLegend(self)
        self.legend.setVisible(False)
        self.labels = LabelLayer(self.legend, self._opacity)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = self.labels.item
        self.view_box.addItem(self.image_item)
        self.view_box.addItem(self.overlay_item)
        self.annotations = ViewAnnotations(self.graphics.viewport())
        self.slice_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slice_slider.setToolTip("Slice (mouse wheel, arrow keys, PgUp/PgDn, Home/End)")
        self.slice_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        middle = QHBoxLayout()
        middle.setContentsMargins(0, 0, 0, 0)
        middle.setSpacing(4)
        middle.addWidget(self.graphics, 1)
        middle.addWidget(self.legend, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(self.toolbar)
        layout.addLayout(middle, 1)
        layout.addWidget(self.slice_slider)

        self.view_box.sliceStepRequested.connect(self._on_slice_step)
        self.view_box.windowDragged.connect(self._on_window_dragged)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.installEventFilter(self)
        self.graphics.viewport().installEventFilter(self)
        self.slice_slider.valueChanged.connect(self.set_slice)
        self.toolbar.orientationRequested.connect(self.set_orientation)
        self.toolbar.presetRequested.connect(self.apply_preset)
        self.toolbar.opacityRequested.connect(self.set_overlay_opacity)
        self.toolbar.overlayToggled.connect(self.set_overlay_visible)
        self.toolbar.fitRequested.connect(self.fit_to_view)
        self.legend.visibilityChanged.connect(self._on_legend_visibility)
        # T from anywhere in the window (a line edit being typed in keeps its letters: Qt gives
        # text fields the key first); the view's own key handling covers it when focused.
        self._toggle_shortcut = QShortcut(QKeySequence(Qt.Key.Key_T), self, context=Qt.ShortcutContext.WindowShortcut)
        self._toggle_shortcut.activated.connect(self.toggle_overlay)
        self.clear()

    # ----------------------------------------------------------------- data
    def set_volume(
        self,
        image: np.ndarray,
        spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
        label: np.ndarray | None = None,
        label_table: LabelTable | None = None,
        window: tuple[float, float] | None = None,
        modality: str | None = None,
        origin: tuple[float, float, float] | None = None,
        direction: np.ndarray | None = None,
        body_region: str | None = None,
        modality_text: str | None = None,
    ) -> None:
        """Show ``image`` (z, y, x) with ``spacing`` (sx, sy, sz) in mm and an optional label map.

        The window it opens with: ``window`` (center, width) from the file (DICOM), shown as "From
        file"; else for a CT the preset that opens its ``body_region`` ("head": Brain 100/50,
        "body": Abdomen 350/40); else the 0.1-99.9 percentile range. ``origin`` (LPS, mm) enables
        the slice position readout; ``direction`` is the 3x3 SimpleITK direction matrix (identity
        when omitted). ``modality_text`` is the corner's name for the modality ("CT (from
        intensities)"); ``modality`` itself picks the presets and the HU unit.
        """
        image, spacing, label = checked_volume(image, spacing, label)
        same_geometry = (  # keep the slice and zoom when the next volume has the same grid
            self._image is not None
            and self._image.shape == image.shape
            and self._spacing == spacing
            and np.array_equal(self._direction, direction)
        )
        self._image, self._label = image, label
        self._spacing, self._modality = spacing, modality
        self._modality_text = modality_text or modality
        self._origin = None if origin is None else tuple(float(o) for o in origin)
        self._direction = None if direction is None else np.asarray(direction, dtype=float).reshape(3, 3)
        self.labels.set_labels(label, label_table)
        self._sync_legend()
        self._windows = wl.VolumeWindow.of(image, window, wl.opening_preset(self._presets, modality, body_region))
        enabled = {n: p.applies_to(modality) for n, p in self._presets.items()}
        self.toolbar.set_presets_enabled({**enabled, wl.FROM_FILE: self._windows.from_file is not None})
        self.toolbar.set_overlay_available(label is not None)
        if not same_geometry:
            for name in ORIENTATIONS:
                n = image.shape[layout_for(name, spacing, self._direction).slice_axis]
                self._indices[name] = n // 2
        self.annotations.set_message("")
        self.toolbar.setEnabled(True)
        self._apply_layout(fit=not same_geometry)
        self.set_window(*self._windows.initial)

    def clear(self) -> None:
        """Show nothing (and say so)."""
        self._image = self._label = None
        self.image_item.clear()
        self.labels.set_labels(None, None)
        self.labels.show_slice(None, QRectF(), False)
        self.toolbar.set_overlay_available(False)
        self.slice_slider.setEnabled(False)
        self.annotations.clear("No volume loaded")
        self.toolbar.setEnabled(False)

    def has_volume(self) -> bool:
        return self._image is not None

    # ------------------------------------------------------------ orientation
    def orientation(self) -> str:
        return self._orientation

    @Slot(str)
    def set_orientation(self, name: str) -> None:
        if name not in ORIENTATIONS:
            raise ValueError(f"Unknown orientation {name!r}; use one of {', '.join(ORIENTATIONS)}.")
        if name == self._orientation:
            self.toolbar.set_orientation(name)
            return
        self._orientation = name
        self._apply_layout(fit=True)
        self.orientationChanged.emit(name)

    def _apply_layout(self, fit: bool) -> None:
        self._layout = layout_for(self._orientation, self._spacing, self._direction)
        self.toolbar.set_orientation(self._orientation)
        if self._image is None:
            return
        self.slice_slider.blockSignals(True)
        self.slice_slider.setRange(0, max(0, self.slice_count - 1))
        self.slice_slider.blockSignals(False)
        self.slice_slider.setEnabled(self.slice_count > 1)
        self.annotations.set_letters(self._layout.letters)
        self._redraw()
        if fit:
            self.fit_to_view()

    @Slot()
    def fit_to_view(self) -> None:
        """Show the whole slice (the zoom and pan are reset)."""
        if self._image is not None:
            self.view_box.setRange(rect=self.slice_rect(), padding=0.02)

    def slice_rect(self) -> QRectF:
        """The displayed slice in view coordinates (millimetres), for the current orientation."""
        rows, cols = self.displayed_shape()
        return QRectF(0.0, 0.0, cols * self._layout.col_spacing, rows * self._layout.row_spacing)

    def displayed_shape(self) -> tuple[int, int]:
        """(rows, cols) of the slice on screen."""
        if self._image is None:
            return 0, 0
        return self._layout.shape_on_screen(self._image.shape)

    # ----------------------------------------------------------------- slices
    @property
    def slice_index(self) -> int:
        return self._indices[self._orientation]

    @property
    def slice_count(self) -> int:
        return 0 if self._image is None else int(self._image.shape[self._layout.slice_axis])

    @Slot(int)
    def set_slice(self, index: int) -> None:
        if self._image is None:
            return
        index = int(min(max(int(index), 0), self.slice_count - 1))
        if index == self.slice_index:
            return
        self._indices[self._orientation] = index
        self._redraw()
        self.sliceChanged.emit(index)

    @Slot(int)
    def _on_slice_step(self, steps: int) -> None:
        self.set_slice(self.slice_index + steps)

    def _redraw(self) -> None:
        self.slice_slider.blockSignals(True)
        self.slice_slider.setValue(self.slice_index)
        self.slice_slider.blockSignals(False)
        image_slice = self._layout.extract(self._image, self.slice_index)
        rect = self.slice_rect()
        self.image_item.setImage(image_slice, autoLevels=False, levels=self._levels())
        self.image_item.setRect(rect)
        self._redraw_overlay(rect)
        self._update_texts()
        self._update_probe()

    def _redraw_overlay(self, rect: QRectF | None = None) -> None:
        label_slice = None if self._label is None else self._layout.extract(self._label, self.slice_index)
        self.labels.show_slice(label_slice, rect or self.slice_rect(), self._overlay_visible)

    def overlay_rgba(self) -> np.ndarray | None:
        """The RGBA array now drawn as the label overlay (rows, cols, 4), or None."""
        return None if self._label is None else self.overlay_item.image

    # --------------------------------------------------------------- overlay
    def overlay_opacity(self) -> float:
        return self._opacity

    @Slot(float)
    def set_overlay_opacity(self, opacity: float) -> None:
        opacity = float(min(max(opacity, 0.0), 1.0))
        if opacity == self._opacity:
            return
        self._opacity = opacity
        self.overlay_item.setOpacity(opacity)
        self.toolbar.show_opacity(opacity)
        self.overlayOpacityChanged.emit(opacity)

    def overlay_visible(self) -> bool:
        return self._overlay_visible

    @Slot(bool)
    def set_overlay_visible(self, visible: bool) -> None:
        visible = bool(visible)
        if visible == self._overlay_visible:
            return
        self._overlay_visible = visible
        self.overlay_item.setVisible(visible and self._label is not None)
        self._sync_legend()
        self.toolbar.show_overlay_visible(visible)
        self.overlayVisibleChanged.emit(visible)

    def _sync_legend(self) -> None:
        """The legend shows while the overlay does (and there are labels to name)."""
        self.legend.setVisible(self._legend_shown and self._overlay_visible and bool(self.labels.values))

    def set_legend_shown(self, shown: bool) -> None:
        """Whether this view shows a legend at all (a view beside another with the same labels may not)."""
        self._legend_shown = bool(shown)
        self._sync_legend()

    def set_keyboard_shortcuts(self, enabled: bool) -> None:
        """Whether T works anywhere in the window while this view is shown (not only once the view
        has been clicked). Of two views shown together only one may have it (the compare view
        gives it to its left view, which the right one follows)."""
        self._toggle_shortcut.setEnabled(enabled)

    def legend_names(self) -> list[str]:
        return self.legend.names()

    @Slot()
    def _on_legend_visibility(self) -> None:
        self.labels.refresh_colors()
        if self._image is not None:
            self._redraw_overlay()

    # ------------------------------------------------------------------ text
    def _update_texts(self) -> None:
        args = (self._layout, self._image.shape, self.slice_index, self._spacing, self._origin, self._direction)
        self.annotations.set_corner("top_left", slice_text(self._orientation, *args))
        self.annotations.set_corner("top_right", volume_text(self._modality_text, self._spacing))

    @Slot(object)
    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        self._probe_pos = scene_pos
        self._update_probe()

    def _update_probe(self) -> None:
        """Bottom-left corner: voxel index (x, y, z) and value under the cursor, and its label."""
        text = ""
        if self._image is not None and self._probe_pos is not None:
            p = self.view_box.mapSceneToView(self._probe_pos)
            row = int(np.floor(p.y() / self._layout.row_spacing))
            col = int(np.floor(p.x() / self._layout.col_spacing))
            text = probe_text(self._layout, self._image, self._label, self.labels.table, self.slice_index, row, col,
                              self._modality)
        self.annotations.set_corner("bottom_left", text)

    # ------------------------------------------------------------------ keys
    def keyPressEvent(self, event) -> None:
        if not self.handle_key(event.key(), event.modifiers()):
            super().keyPressEvent(event)

    def handle_key(self, key: int, modifiers=Qt.KeyboardModifier.NoModifier) -> bool:
        """The view's keys (see the module docstring); True when the key was used."""
        action = key_action(key, modifiers)
        if self._image is None or action is None:
            return False
        name, arg = action
        if name == "step":
            self.set_slice(self.slice_index + arg)
        elif name in ("first", "last"):
            self.set_slice(0 if name == "first" else self.slice_count - 1)
        elif name == "reset_window":
            self.reset_window()
        else:
            self.toggle_overlay()
        return True

    @Slot()
    def toggle_overlay(self) -> None:
        """Show or hide the label overlay and its legend (the T key)."""
        if self._image is not None and self.isVisible():
            self.set_overlay_visible(not self._overlay_visible)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.graphics and event.type() == QEvent.Type.KeyPress:
            return self.handle_key(event.key(), event.modifiers())
        if obj is self.graphics.viewport() and event.type() == QEvent.Type.Leave:
            self._probe_pos = None
            self._update_probe()
        if (
            obj is self.graphics.viewport()
            and event.type() == QEvent.Type.MouseButtonDblClick
            and event.button() == Qt.MouseButton.LeftButton
        ):
            self.reset_window()
            return True
        return super().eventFilter(obj, event)
