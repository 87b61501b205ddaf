"""Training previews: each generated slice beside the real slice of the same label map (and the
label map), refreshed as the engine sends them; large, and a click opens them at full size."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

COLUMNS = "label map · real slice · generated"
ROW_TIP = (
    "Each row is one held-out slice: its label map (what the generator is given), the real scan of that "
    "slice, and what the generator drew from the label map alone (the averaged generator, the one that is "
    "exported). Closer to the real slice is better; the texture need not match pixel for pixel. "
    "Click to see them at full size."
)


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


class _ClickableImage(QLabel):
    clicked = Signal()

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)


MARGIN_W, MARGIN_H = 80, 120  # room the dialog's frame and caption take on the screen


def full_size(image_w: int, image_h: int, screen_w: int, screen_h: int) -> tuple[int, int]:
    """The preview as large as the screen allows (never smaller than it is)."""
    scale = max(1.0, min((screen_w - MARGIN_W) / max(1, image_w), (screen_h - MARGIN_H) / max(1, image_h)))
    return round(image_w * scale), round(image_h * scale)


class FullSizePreview(QDialog):
    """The preview grid as large as the screen allows; scrolls when it is larger than the screen."""

    def __init__(self, parent: QWidget | None, pixmap: QPixmap, caption: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(caption)
        screen = (parent.screen() if parent is not None else QGuiApplication.primaryScreen()).availableGeometry()
        w, h = full_size(pixmap.width(), pixmap.height(), screen.width(), screen.height())
        whole = w % pixmap.width() == 0  # a whole-pixel enlargement keeps the pixels sharp
        self.image = QLabel(self)
        self.image.setPixmap(pixmap.scaled(w, h, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.FastTransformation if whole
                                           else Qt.TransformationMode.SmoothTransformation))
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        area = QScrollArea(self)
        area.setWidget(self.image)
        area.setWidgetResizable(True)
        text = QLabel(f"{caption}\nColumns: {COLUMNS}", self)
        text.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(area, 1)
        self.resize(min(screen.width() - 40, self.image.pixmap().width() + 60),
                    min(screen.height() - 60, self.image.pixmap().height() + 110))


class PreviewStrip(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(f"Previews appear here during training: {COLUMNS}", self)
        self.caption.setStyleSheet("color: gray;")
        self.caption.setWordWrap(True)
        self.caption.setToolTip(ROW_TIP)
        self.image = _ClickableImage(self)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.image.setMinimumHeight(160)
        self.image.setToolTip(ROW_TIP)
        self.image.setCursor(Qt.CursorShape.PointingHandCursor)
        self.image.clicked.connect(self.open_full_size)
        self.dialog: FullSizePreview | None = None
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
        self.caption.setText(f"Iteration {iteration:,}: {COLUMNS} (click to enlarge)")
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
        self.caption.setText(f"Previews appear here during training: {COLUMNS}")

    @Slot()
    def open_full_size(self) -> FullSizePreview | None:
        if self._pixmap is None:
            return None
        self.dialog = FullSizePreview(self, self._pixmap, self.caption.text().replace(" (click to enlarge)", ""))
        self.dialog.open()
        return self.dialog

    def has_image(self) -> bool:
        return self._pixmap is not None

    def _rescale(self) -> None:
        if self._pixmap is not None:
            self.image.setPixmap(self._pixmap.scaled(self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                     Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()
