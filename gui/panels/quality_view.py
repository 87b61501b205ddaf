"""The Quality view: "Check quality" asks for the report (the panel runs it in the background); the
view shows one card per measure: its plain-language verdict, its numbers beside the real
reference, and the report's picture for it; then the report's notes, the utility study
(gui/panels/quality_study.py: its settings, "Run utility study", its curve and table) and a link to
the report's page. The view only shows what the report says; it computes nothing."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from engine.evaluation.schema import HTML_FILE
from gui.panels.gallery_jobs import memorisation_flagged
from gui.panels.quality_study import StudySection

MEASURES = (
    ("fidelity", "Fidelity", "generated from held-out label maps, compared with the real slices"),
    ("intensity_w1", "Intensity realism", "Wasserstein-1 distance of voxel intensities, per label"),
    ("diversity", "Diversity", "mean pairwise MS-SSIM of samples of one label map (lower = more varied)"),
    ("memorization", "Memorisation (privacy)", "distance of each synthetic slice to its nearest training slice"),
    ("tstr", "Utility", "segmenters trained on real, synthetic, and both; tested on held-out real cases (Dice)"),
)
FIGURES = {  # measure -> the report's pictures for it, in order
    "fidelity": ("pairs",),
    "intensity_w1": ("intensity",),
    "diversity": ("diversity",),
    "memorization": ("memorization", "memorization_distances"),
    "tstr": ("tstr",),
}
STATUS_COLORS = {"good": "#6ec878", "fair": "#e6b45a", "poor": "#eb6e64", "warning": "#eb6e64"}
FIGURE_BOX = (380, 190)
NO_REPORT = "No quality report yet. Check quality before you export data that leaves the hospital."


def _num(value, digits: int = 3, unit: str = "") -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".strip()


def verdict_of(report: dict, key: str) -> tuple[str, str]:
    """(status, text) of a measure's verdict: ``report["verdicts"][key]`` = ``{"status", "text"}``
    (a plain string is taken as the text)."""
    raw = (report.get("verdicts") or {}).get(key)
    if isinstance(raw, dict):
        return str(raw.get("status") or "").lower(), str(raw.get("text") or "")
    if isinstance(raw, str):
        return "", raw
    return "", ""


def measure_rows(report: dict, key: str) -> list[tuple[str, str, str]]:
    """(name, synthetic, real reference) rows of one measure, from the keys of the report."""
    data = report.get(key)
    if not isinstance(data, dict):
        return []
    if key == "fidelity":
        rows = [("PSNR", _num(data.get("psnr"), 2, "dB"), ""), ("SSIM", _num(data.get("ssim")), "1 = identical")]
        if "ssim_foreground" in data:
            rows.append(("SSIM inside the anatomy", _num(data.get("ssim_foreground")), "1 = identical"))
        return rows
    if key == "intensity_w1":
        units = (report.get("intensity") or {}).get("units", "")
        return [(str(name), _num(value, 2, units), "0 = same") for name, value in data.items()
                if isinstance(value, (int, float))]
    if key == "diversity":
        return [("MS-SSIM between samples", _num(data.get("ms_ssim_synthetic")), _num(data.get("ms_ssim_real")))]
    if key == "memorization":
        return [("Nearest-training distance ratio", _num(data.get("nn_ratio"), 2), "≈ 1 or more"),
                ("Slices flagged as too close", _num(data.get("flagged")), "0")]
    if key == "tstr":
        rows = [("Trained on synthetic (TSTR)", _num(data.get("dice_synthetic")), _num(data.get("dice_real"))),
                ("Trained on real + synthetic", _num(data.get("dice_mixed")), _num(data.get("dice_real"))),
                ("TSTR / TRTR ratio", _num(data.get("ratio"), 2), "1.00")]
        if isinstance(data.get("gain"), (int, float)):
            rows.append(("Gain of real + synthetic", f"{data['gain']:+.3f}", "> 0 helps"))
        for name, scores in (data.get("per_label") or {}).items():
            if isinstance(scores, dict):
                rows.append((f"Dice {name} (synthetic-trained)", _num(scores.get("synthetic")), _num(scores.get("real"))))
        return rows
    return []


class FigureLabel(QLabel):
    """A report picture, scaled to fit its box; a click opens the full-size file."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        pix = QPixmap(str(path))
        self.valid = not pix.isNull()
        if self.valid:
            self.setPixmap(pix.scaled(*FIGURE_BOX, Qt.AspectRatioMode.KeepAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation))
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"{path.name}: click to open it full size")

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.path)))
        super().mouseReleaseEvent(event)


class MeasureCard(QFrame):
    """One measure: title, verdict (coloured by status), its numbers, its pictures."""

    def __init__(self, title: str, subtitle: str, status: str, verdict: str, rows, figures, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("measureCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.status, self.rows = status, list(rows)
        heading = QLabel(f"<b>{title}</b> <span style='color: gray;'>— {subtitle}</span>", self)
        heading.setWordWrap(True)
        color = STATUS_COLORS.get(status, "")
        badge = f"<b style='color: {color};'>{status.upper()}</b>  " if color else ""
        self.verdict_label = QLabel(f"{badge}{verdict}" if verdict else "<span style='color: gray;'>No verdict.</span>", self)
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        numbers = QGridLayout()
        numbers.setHorizontalSpacing(16)
        numbers.setVerticalSpacing(2)
        for col, text in enumerate(("", "Synthetic", "Real reference")):
            head = QLabel(text, self)
            head.setStyleSheet("color: gray;")
            numbers.addWidget(head, 0, col, Qt.AlignmentFlag.AlignRight if col else Qt.AlignmentFlag.AlignLeft)
        for r, (name, value, reference) in enumerate(self.rows, start=1):
            numbers.addWidget(QLabel(name, self), r, 0)
            numbers.addWidget(QLabel(value, self), r, 1, Qt.AlignmentFlag.AlignRight)
            numbers.addWidget(QLabel(reference, self), r, 2, Qt.AlignmentFlag.AlignRight)
        numbers.setColumnStretch(0, 1)
        text_col = QVBoxLayout()
        text_col.addWidget(heading)
        text_col.addWidget(self.verdict_label)
        text_col.addSpacing(4)
        text_col.addLayout(numbers)
        text_col.addStretch(1)
        self.figures = [f for f in (FigureLabel(p, self) for p in figures) if f.valid]
        fig_col = QVBoxLayout()
        for f in self.figures:
            fig_col.addWidget(f, 0, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight)
        fig_col.addStretch(1)
        row = QHBoxLayout(self)
        row.addLayout(text_col, 1)
        row.addLayout(fig_col)


class QualityView(QWidget):
    checkRequested = Signal()
    studyRequested = Signal(dict)  # the study's EvaluateConfig fields

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: dict | None = None
        self.folder: Path | None = None
        self.cards: dict[str, MeasureCard] = {}
        self.notes: list[str] = []
        self.check_button = QPushButton("Check quality", self)
        self.check_button.setMinimumHeight(30)
        self.check_button.setToolTip(
            "Compare synthetic and real data on the run's held-out cases: fidelity, intensity realism,\n"
            "diversity, memorisation (privacy) and train-on-synthetic/test-on-real utility."
        )
        self.check_button.clicked.connect(self.checkRequested)
        self.info = QLabel(NO_REPORT, self)
        self.info.setWordWrap(True)
        self.link = QLabel("", self)
        self.link.setOpenExternalLinks(True)
        self.link.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        top = QHBoxLayout()
        top.addWidget(self.check_button)
        top.addWidget(self.info, 1)
        top.addWidget(self.link)
        self.page = QWidget(self)
        self.page_layout = QVBoxLayout(self.page)
        self.page_layout.setContentsMargins(0, 0, 4, 0)
        self.cards_layout = QVBoxLayout()
        self.cards_layout.setContentsMargins(0, 0, 0, 0)
        self.page_layout.addLayout(self.cards_layout)
        self.study_section = StudySection(self.page)
        self.study_section.studyRequested.connect(self.studyRequested)
        self.page_layout.addWidget(self.study_section)
        self.page_layout.addStretch(1)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(self.page)
        self.setStyleSheet("QFrame#measureCard { border: 1px solid palette(mid); border-radius: 6px; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.scroll, 1)

    def set_running(self, running: bool, study: bool = False) -> None:
        self.check_button.setEnabled(not running)
        self.study_section.set_running(running and study)
        self.study_section.run_button.setEnabled(not running)
        if running:
            self.info.setText("Checking quality… (progress and Cancel at the top of the panel)")

    def clear(self) -> None:
        self.report, self.folder, self.notes = None, None, []
        self.link.setText("")
        self.info.setText(NO_REPORT)
        self._clear_page()
        self.study_section.clear()

    def _clear_page(self) -> None:
        self.cards = {}
        while self.cards_layout.count():
            widget = self.cards_layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()

    def show_report(self, report: dict, folder: Path) -> None:
        self.clear()
        self.report, self.folder = report, Path(folder)
        images = report.get("images") if isinstance(report.get("images"), dict) else {}
        for key, title, subtitle in MEASURES:
            rows = measure_rows(report, key)
            status, text = verdict_of(report, key)
            if not rows and not text:
                continue
            figures = [self.folder / images[name] for name in FIGURES[key] if name in images]
            card = MeasureCard(title, subtitle, status, text, rows, figures, self.page)
            self.cards[key] = card
            self.cards_layout.addWidget(card)
        self.notes = [str(n) for n in report.get("notes") or []]
        if self.notes:
            notes = QLabel("<b>Notes</b><ul style='margin-left: -20px;'>" + "".join(f"<li>{n}</li>" for n in self.notes)
                           + "</ul>", self.page)
            notes.setWordWrap(True)
            notes.setTextFormat(Qt.TextFormat.RichText)
            notes.setStyleSheet("color: gray;")
            self.cards_layout.addWidget(notes)
        self.study_section.show_study(report.get("utility_study"), (report.get("verdicts") or {}).get("utility_study"))
        when = str(report.get("created") or "").replace("T", " ").split("+")[0]
        flagged = memorisation_flagged(report)
        warn = f"  <b style='color: #eb6e64;'>⚠ {flagged} slice(s) flagged as memorised: look before you export.</b>" if flagged else ""
        self.info.setText(f"Report of {when or 'unknown date'} in <code>{folder}</code>.{warn}")
        html = self.folder / HTML_FILE
        self.link.setText(f'<a href="{QUrl.fromLocalFile(str(html)).toString()}">Open {HTML_FILE}</a>' if html.is_file() else "")

    def scroll_to_study(self) -> None:
        """Bring the utility study into view when the report has one."""
        if self.study_section.study is not None:
            self.page.adjustSize()
            self.scroll.verticalScrollBar().setValue(max(0, self.study_section.y() - 8))

    def image_count(self) -> int:
        return sum(len(card.figures) for card in self.cards.values())
