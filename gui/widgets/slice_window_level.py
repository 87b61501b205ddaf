"""The window/level half of a SliceView (a mixin of gui/widgets/slice_view.py): the window shown,
the file's own window ("From file"), the automatic one, presets, the drag and the reset. The rules
themselves are plain functions in gui/widgets/window_level.py."""

from __future__ import annotations

from PySide6.QtCore import Slot

from gui.widgets import window_level as wl


class SliceWindowLevel:
    """Needs of its SliceView: ``_window``, ``_windows`` (a VolumeWindow), ``_presets``, ``_image``,
    ``image_item``, ``toolbar``, ``annotations``, ``view_box`` and the ``windowChanged`` signal."""

    def window(self) -> tuple[float, float]:
        """(center, width) now shown."""
        return self._window

    def _levels(self) -> tuple[float, float]:
        c, w = self._window
        return c - w / 2.0, c + w / 2.0

    @Slot(float, float)
    def set_window(self, center: float, width: float) -> None:
        clamped = self._windows.clamped(center, width)
        if clamped is None:
            return
        center, width = clamped
        changed = (center, width) != self._window
        self._window = (center, width)
        self.image_item.setLevels(self._levels())
        self.toolbar.show_preset(
            wl.matching_preset(self._window, self._presets, self._windows.auto, self._windows.from_file)
        )
        self.annotations.set_corner(
            "bottom_right", wl.readout(center, width) if self._image is not None else ""
        )
        if changed:
            self.windowChanged.emit(center, width)

    @Slot()
    def reset_window(self) -> None:
        """Back to the window the volume opened with (the file's, its CT preset or percentiles)."""
        self.set_window(*self._windows.initial)

    @Slot(str)
    def apply_preset(self, name: str) -> None:
        if name in (wl.AUTO_PRESET, wl.FROM_FILE):
            window = self._windows.auto if name == wl.AUTO_PRESET else self._windows.from_file
            if self._image is not None and window is not None:
                self.set_window(*window)
            return
        if name not in self._presets:
            raise KeyError(f"No window preset named {name!r}; known: {', '.join(self.preset_names())}.")
        preset = self._presets[name]
        self.set_window(preset.level, preset.width)

    def preset_names(self) -> list[str]:
        return [wl.FROM_FILE, wl.AUTO_PRESET, *self._presets]

    @Slot(float, float)
    def _on_window_dragged(self, dx: float, dy: float) -> None:
        if self._image is None:
            return
        pixels = min(self.view_box.width(), self.view_box.height())
        self.set_window(*wl.dragged_window(*self._window, dx, dy, self._windows.range, pixels))
