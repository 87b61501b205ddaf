"""The Compare tab of the gallery: a hint until a sample is chosen, then the synthetic volume with
its label overlay beside the real case its label map came from (or a caption saying there is
none, for a label map of the user's own)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedWidget, QWidget

from engine.data.labels import LabelTable
from engine.data.viewing import ViewVolume
from gui.widgets.compare_view import SideBySideView
from gui.widgets.volume_input import view_volume_args


class ComparePane(QStackedWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = SideBySideView("Synthetic", "Real source", self)
        self.hint = QLabel("", self)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: gray; font-size: 14px;")
        self.addWidget(self.hint)
        self.addWidget(self.view)

    def set_hint(self, text: str, show: bool = False) -> None:
        """The text shown while no sample is on screen (``show``: go back to it now)."""
        self.hint.setText(text)
        if show:
            self.setCurrentWidget(self.hint)

    def clear(self, hint: str) -> None:
        self.view.left.clear()
        self.view.right.clear()
        self.set_hint(hint, show=True)

    def show_comparison(self, synthetic: ViewVolume, real: ViewVolume | None, left_caption: str, right_caption: str,
                        label_table: LabelTable | None) -> None:
        self.setCurrentWidget(self.view)
        left = view_volume_args(synthetic, label_table)
        if real is not None:
            self.view.set_volumes(left, view_volume_args(real, label_table))
        else:
            self.view.left.set_volume(**left)
            self.view.right.clear()
        self.view.set_captions(left_caption, right_caption)
