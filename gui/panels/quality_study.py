"""The utility study in the Quality tab: its settings (ratios, label sources, seeds) and the button
that runs it in the background (the Gallery's job bar shows its progress and Cancel), then what
the quality report's ``utility_study`` says: the verdict, the curve of Dice against the synthetic:real
ratio (gui/panels/quality_study_plot.py), the table of every condition with Dice per label and the
rare label apart, the budget, the goals and the recommended ratio (which the export dialog takes as
its default mix ratio)."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.panels.quality_study_plot import SOURCE_TEXT, StudyPlot

STATUS_COLORS = {"good": "#6ec878", "fair": "#e6b45a", "poor": "#eb6e64", "warning": "#eb6e64"}
DEFAULT_RATIOS = "0.5, 1, 2, 4"
NOT_RUN = ("Not run yet. The study trains the same MONAI segmenter on real slices, real + classic augmentation, "
           "synthetic slices and real + synthetic mixes, several seeds each, and tests them on held-out real "
           "slices: minutes on a GPU, much longer on the CPU.")


def _dice(mean, ci) -> str:
    if not isinstance(mean, (int, float)):
        return "–"
    return f"{mean:.3f}" + (f"  [{ci[0]:.3f}, {ci[1]:.3f}]" if isinstance(ci, (list, tuple)) and None not in ci else "")


def condition_title(c: dict) -> str:
    if c.get("name") in ("real+synthetic", "real+synthetic+augmentation"):
        source = SOURCE_TEXT.get(c.get("label_source"), c.get("label_source"))
        return f"{c['name']} ({source}, {c.get('ratio', 0):g} per real)"
    return str(c.get("name"))


def study_table(study: dict) -> tuple[list[str], list[list[str]], int | None]:
    """(headers, rows, column of the rare label) of the per-condition table: mean Dice with its 95 %
    interval, Dice per label (the rare label last, apart), mean HD95."""
    conditions = study.get("conditions") or []
    rare = study.get("rare_label")
    labels = list((conditions[0].get("per_label") or {}) if conditions else {})
    common = [n for n in labels if n != rare]
    headers = ["condition", "mean Dice [95% interval]", *common]
    rare_col = None
    if rare in labels:
        rare_col = len(headers)
        headers.append(f"rare: {rare}")
    headers.append("HD95 (mm)")
    rows = []
    for c in conditions:
        per = c.get("per_label") or {}
        row = [condition_title(c), _dice(c.get("dice_mean"), c.get("dice_ci95"))]
        row += [_dice(per.get(n, {}).get("dice_mean"), per.get(n, {}).get("dice_ci95")) for n in common]
        if rare_col is not None:
            row.append(_dice(per[rare].get("dice_mean"), per[rare].get("dice_ci95")))
        hd = [per[n]["hd95_mm"] for n in labels if isinstance(per.get(n, {}).get("hd95_mm"), (int, float))]
        row.append(f"{sum(hd) / len(hd):.1f}" if hd else "–")
        rows.append(row)
    return headers, rows, rare_col


def study_facts(study: dict) -> list[tuple[str, str]]:
    b = study.get("segmenter") or {}
    patch = b.get("patch_size") or ["?", "?"]
    facts = [
        ("segmenter", str(b.get("network", "?"))),
        ("budget", f"{b.get('iterations', '?')} iterations x {b.get('batch_size', '?')} patches of "
                   f"{patch[0]}x{patch[1]} px, learning rate {b.get('lr', '?')}, {len(study.get('seeds') or [])} seeds"),
        ("test", f"{study.get('test_cases', 0)} held-out patient(s), {study.get('test_slices', '?')} slices"
         + ("" if study.get("patient_level", True) else " (a held-out block of the training patient)")),
    ]
    rec = study.get("recommended") or {}
    if rec.get("ratio") is not None:
        facts.append(("recommended mix", f"{rec['ratio']:g} synthetic per real ({SOURCE_TEXT.get(rec.get('label_source'), '?')}"
                                         f"): the export dialog's default mix ratio"))
    else:
        facts.append(("recommended mix", str(rec.get("reason") or "none")))
    for key, g in (study.get("goals") or {}).items():
        if isinstance(g, dict) and isinstance(g.get("measured"), (int, float)):
            facts.append((f"goal: {key.replace('_', ' ')}",
                          f"{g['measured']:.3f} against {g.get('target')}: {'met' if g.get('met') else 'not met'}"))
    if study.get("unlearned_labels"):
        facts.append(("not learned", ", ".join(study["unlearned_labels"])))
    return facts


def parse_ratios(text: str) -> tuple[float, ...]:
    """"0.5, 1, 2" -> (0.5, 1.0, 2.0); ValueError naming what is not a number."""
    parts = [p for p in re.split(r"[,;\s]+", text.strip()) if p]
    try:
        return tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"ratios {text!r}: write numbers separated by commas, e.g. {DEFAULT_RATIOS}") from None


class StudySection(QFrame):
    """``studyRequested(settings)``: EvaluateConfig fields of the study to run."""

    studyRequested = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("measureCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.study: dict | None = None
        heading = QLabel("<b>Utility study</b> <span style='color: gray;'>— does synthetic data help a segmenter, "
                         "and more than classic augmentation?</span>", self)
        heading.setWordWrap(True)
        self.ratios = QLineEdit(DEFAULT_RATIOS, self)
        self.ratios.setToolTip("Synthetic slices per real slice, one real+synthetic condition each")
        self.ratios.setMaximumWidth(140)
        self.sources = {key: QCheckBox(text, self) for key, text in SOURCE_TEXT.items()}
        for box in self.sources.values():
            box.setChecked(True)
        self.seeds = QSpinBox(self)
        self.seeds.setRange(1, 20)
        self.seeds.setValue(3)
        self.seeds.setToolTip("Every condition is trained this many times (3 or more give a 95% interval)")
        self.run_button = QPushButton("Run utility study", self)
        self.run_button.setMinimumHeight(28)
        self.run_button.clicked.connect(self._on_run_clicked)
        form = QHBoxLayout()
        form.addWidget(QLabel("Ratios", self))
        form.addWidget(self.ratios)
        form.addSpacing(8)
        for box in self.sources.values():
            form.addWidget(box)
        form.addSpacing(8)
        form.addWidget(QLabel("Seeds", self))
        form.addWidget(self.seeds)
        form.addStretch(1)
        form.addWidget(self.run_button)
        self.error = QLabel("", self)
        self.error.setStyleSheet("color: #eb6e64;")
        self.error.hide()
        self.verdict = QLabel(NOT_RUN, self)
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plot = StudyPlot(self)
        self.table = QTableWidget(0, 0, self)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.facts = QLabel("", self)
        self.facts.setWordWrap(True)
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.verdict)
        layout.addWidget(self.plot)
        layout.addWidget(self.table)
        layout.addWidget(self.facts)
        self.clear()

    # ------------------------------------------------------------------ settings
    def settings(self) -> dict:
        """The study's EvaluateConfig fields (ValueError with a message when a field is wrong)."""
        sources = tuple(key for key, box in self.sources.items() if box.isChecked())
        if not sources:
            raise ValueError("Tick at least one label source.")
        return {"study": True, "study_ratios": parse_ratios(self.ratios.text()), "study_sources": sources,
                "study_seeds": self.seeds.value()}

    @Slot()
    def _on_run_clicked(self) -> None:
        try:
            settings = self.settings()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self.show_error("")
        self.studyRequested.emit(settings)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        if running:
            self.verdict.setText("Running the utility study… (progress and Cancel at the top of the panel)")

    # ------------------------------------------------------------------ results
    def clear(self) -> None:
        self.study = None
        self.verdict.setText(NOT_RUN)
        self.plot.hide()
        self.table.hide()
        self.facts.setText("")

    def show_study(self, study: dict | None, verdict: dict | None = None) -> None:
        if not isinstance(study, dict) or not study.get("conditions"):
            self.clear()
            return
        self.study = study
        status = str((verdict or {}).get("status") or "").lower()
        color = STATUS_COLORS.get(status)
        badge = f"<b style='color: {color};'>{status.upper()}</b>  " if color else ""
        self.verdict.setText(badge + str((verdict or {}).get("text") or "No verdict."))
        self.plot.show_study(study)
        self.plot.show()
        headers, rows, rare_col = study_table(study)
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(headers)
        bold = QFont(self.table.font())
        bold.setBold(True)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c == rare_col:
                    item.setFont(bold)
                self.table.setItem(r, c, item)
        height = self.table.horizontalHeader().height() + sum(self.table.rowHeight(r) for r in range(len(rows))) + 4
        self.table.setFixedHeight(min(height, 420))
        self.table.show()
        self.facts.setText("<table>" + "".join(
            f"<tr><td style='color: gray; padding-right: 12px;'>{k}</td><td>{v}</td></tr>" for k, v in study_facts(study)
        ) + "</table>")
        ratios = study.get("ratios")
        if ratios:
            self.ratios.setText(", ".join(f"{r:g}" for r in ratios))
        for key, box in self.sources.items():
            box.setChecked(key in (study.get("sources") or self.sources))
        if study.get("seeds"):
            self.seeds.setValue(len(study["seeds"]))
