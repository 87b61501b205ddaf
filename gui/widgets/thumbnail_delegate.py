"""How one thumbnail is drawn: the image, a check box on its top-left corner (readable over any
image), the caption below (two lines at most, elided), a frame when it is the current item."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

_PAD = 6
_CHECK = 18


def _is_checked(state) -> bool:
    """CheckStateRole data comes back as the enum or as its int value, depending on the binding."""
    return state == Qt.CheckState.Checked or state == Qt.CheckState.Checked.value


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, thumbnail_size: int, parent=None) -> None:
        super().__init__(parent)
        self.thumbnail_size = int(thumbnail_size)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        line = option.fontMetrics.height()
        return QSize(self.thumbnail_size + 2 * _PAD, self.thumbnail_size + 3 * _PAD + 2 * line)

    def image_rect(self, cell: QRect) -> QRect:
        return QRect(
            cell.x() + (cell.width() - self.thumbnail_size) // 2,
            cell.y() + _PAD,
            self.thumbnail_size,
            self.thumbnail_size,
        )

    def check_rect(self, cell: QRect) -> QRect:
        image = self.image_rect(cell)
        return QRect(image.x() + 5, image.y() + 5, _CHECK, _CHECK)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = option.palette
        cell = option.rect.adjusted(2, 2, -2, -2)
        current = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if current or hovered:
            fill = QColor(palette.highlight().color())
            fill.setAlpha(70 if current else 30)
            painter.setPen(QPen(palette.highlight().color(), 1.5) if current else Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(QRectF(cell), 5, 5)

        image = self.image_rect(option.rect)
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        if icon is not None:
            icon.paint(painter, image)

        checked = _is_checked(index.data(Qt.ItemDataRole.CheckStateRole))
        self._paint_check(painter, QRectF(self.check_rect(option.rect)), checked, palette.highlight().color())

        text_rect = QRect(
            cell.x() + 2, image.bottom() + _PAD, cell.width() - 4, cell.bottom() - image.bottom() - _PAD
        )
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        metrics = option.fontMetrics
        if metrics.horizontalAdvance(text) > text_rect.width() * 2 - 8:
            text = metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, text_rect.width() * 2 - 8)
        painter.setPen(palette.highlightedText().color() if current else palette.text().color())
        painter.drawText(
            text_rect,
            int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap),
            text,
        )
        painter.restore()

    @staticmethod
    def _paint_check(painter: QPainter, rect: QRectF, checked: bool, accent: QColor) -> None:
        painter.setPen(QPen(QColor(235, 235, 235), 1.4))
        painter.setBrush(accent if checked else QColor(0, 0, 0, 150))
        painter.drawRoundedRect(rect, 3, 3)
        if checked:
            path = QPainterPath(QPointF(rect.left() + 4, rect.center().y()))
            path.lineTo(rect.left() + rect.width() * 0.42, rect.bottom() - 4.5)
            path.lineTo(rect.right() - 3.5, rect.top() + 4.5)
            painter.setPen(QPen(QColor("white"), 2.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)

    def editorEvent(self, event: QEvent, model, option: QStyleOptionViewItem, index: QModelIndex) -> bool:
        """A click on the check box (or Space) ticks; a click elsewhere only makes it current."""
        if not index.flags() & Qt.ItemFlag.ItemIsUserCheckable:
            return False
        kind = event.type()
        if kind in (
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseButtonRelease,
            QEvent.Type.MouseButtonDblClick,
        ):
            if event.button() != Qt.MouseButton.LeftButton:
                return False
            if not self.check_rect(option.rect).adjusted(-3, -3, 3, 3).contains(event.position().toPoint()):
                return False
            if kind == QEvent.Type.MouseButtonRelease:
                self._toggle(model, index)
            return True  # press and double-click on the box do not open the item
        if kind == QEvent.Type.KeyPress and event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Select):
            self._toggle(model, index)
            return True
        return False

    @staticmethod
    def _toggle(model, index: QModelIndex) -> None:
        checked = _is_checked(index.data(Qt.ItemDataRole.CheckStateRole))
        new = Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked
        model.setData(index, new, Qt.ItemDataRole.CheckStateRole)
