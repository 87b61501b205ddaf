"""Training previews: each generated slice beside the real slice of the same label map (and the
label map), refreshed as the engine sends them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget


def _grey(a: np.ndarray) -> np.ndarray:
    g = ((np.clip(a, -1, 1) + 1) * 127.5).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def preview_grid(images: dict, colors: list[tuple[int, int, int]] | None, max_rows: int = 4) -> np.ndarray:
    """(H, W, 3) uint8: per sample a row label | real | generated (label colours by class)."""
    real, fake = np.asarray(images["real"]), np.asarray(images["fake"])
    labels = np.asarray(images.get("label")) if images.get("label") is not None else None
    palette = np.array(colors or [(0, 0, 0)] + [(200, 200, 200)] * 255, dtype=np.uint8)
    rows = []
    for i in range(min(max_rows, len(real))):
        parts = []
        if labels is not None:
            parts.append(palette[np.clip(labels[i], 0, len(palette) - 1)])
        parts += [_grey(real[i]), _grey(fake[i])]
        sep = np.full((real.shape[1], 3, 3), 30, np.uint8)
        row = parts[0]
        for p in parts[1:]:
            row = np.concatenate([row, sep, p], axis=1)
        rows.append(row)
    if not rows:
        return np.zeros((8, 8, 3), np.uint8)
    gap = np.full((3, rows[0].shape[1], 3), 30, np.uint8)
    grid = rows[0]
    for r in rows[1:]:
        grid = np.concatenate([grid, gap, r], axis=0)
    return np.ascontiguousarray(grid)


class PreviewStrip(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("Previews appear here during training: label map · real slice · generated", self)
        self.caption.setStyleSheet("color: gray;")
        self.image = QLabel(self)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.image.setMinimumHeight(120)
        self._pixmap: QPixmap | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.image, 1)

    def show_preview(self, iteration: int, images: dict, colors=None) -> None:
        grid = preview_grid(images, colors)
        h, w, _ = grid.shape
        qimg = QImage(grid.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self._pixmap = QPixmap.fromImage(qimg)
        self.caption.setText(f"Iteration {iteration}: label map · real slice · generated (EMA generator)")
        self._rescale()

    def show_file(self, path: str, caption: str) -> None:
        pix = QPixmap(path)
        if pix.isNull():
            return
        self._pixmap = pix
        self.caption.setText(caption)
        self._rescale()

    def clear(self) -> None:
        self._pixmap = None
        self.image.clear()

    def has_image(self) -> bool:
        return self._pixmap is not None

    def _rescale(self) -> None:
        if self._pixmap is not None:
            self.image.setPixmap(self._pixmap.scaled(self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                     Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()
