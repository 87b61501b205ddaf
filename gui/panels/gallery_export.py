"""What the gallery asks and remembers around an export: the warning when the latest quality
report flags memorised slices, the note on the quality numbers that go into manifest.json, the mix
ratio the utility study recommends, and the default destination (a new folder beside the last
export)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from gui import settings as st
from gui.panels.gallery_jobs import memorisation_flagged

PARENT_KEY = "export/parent"


def confirm_despite_memorisation(parent: QWidget, report: dict | None) -> bool:
    """True when there is nothing flagged, or the user chose to export anyway."""
    flagged = memorisation_flagged(report)
    if not flagged:
        return True
    answer = QMessageBox.question(
        parent,
        "Memorisation flagged",
        f"The latest quality report flags {flagged} synthetic slice(s) as closer to a training slice than "
        "real patients ever are to each other: they may reproduce a real patient's image.\n\n"
        "Look at the closest pairs in the Quality tab before data leaves the hospital. Export anyway?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


def quality_note(report: dict | None) -> str:
    if report:
        return "The latest quality report's numbers go into manifest.json."
    return "No quality report yet: manifest.json will hold no quality numbers (Quality tab ▸ Check quality)."


def recommended_mix(report: dict | None) -> dict | None:
    """The utility study's recommended mix of the report (``{"ratio", "label_source", "gain", ...}``;
    its ratio is None when no mix helped), or None when the report has no study."""
    study = (report or {}).get("utility_study")
    recommended = study.get("recommended") if isinstance(study, dict) else None
    return recommended if isinstance(recommended, dict) else None


def default_destination(run: Path | None) -> Path:
    """A folder that does not exist yet, beside the last export (or in ~/SynthVol exports). Its
    name says nothing of the run: run folders are often named after the data, and the data's
    folder after a patient."""
    value = st.app_settings().value(PARENT_KEY, "")
    parent = Path(str(value)) if value else Path.home() / "SynthVol exports"
    base = "synthetic-export"
    candidate, n = parent / base, 2
    while candidate.exists():
        candidate, n = parent / f"{base}-{n}", n + 1
    return candidate


def remember_destination(out_dir: Path) -> None:
    st.app_settings().setValue(PARENT_KEY, str(Path(out_dir).parent))
