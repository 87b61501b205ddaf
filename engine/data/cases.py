"""What a scan finds: cases (an image, maybe a label, their geometry and status) and the dataset."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.data.geometry import Geometry
from engine.data.labels import LabelTable


@dataclass
class CaseRef:
    id: str
    image: Path  # a volume file, a DICOM multi-frame file, or the folder of a DICOM series
    label: Path | None = None
    image_files: tuple[Path, ...] = ()  # the sorted slices of a DICOM series
    label_kind: str | None = None  # "volume" | "seg"
    modality: str | None = None
    inferred_modality: str | None = None  # from the intensities, when no header, name or user says it
    geometry: Geometry | None = None
    label_values: tuple[int, ...] = ()
    label_resampled: bool = False  # the label lies on another grid and is resampled to the image's
    window: tuple[float, float] | None = None  # (center, width) from DICOM, for viewers
    status: str = "ok"  # "ok" | "error"
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    source_sop_instances: tuple[str, ...] = ()  # DICOM slices in order (to decode a SEG against)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def shown_modality(self) -> str | None:
        """The modality to show and to window by: the declared one, else the inferred one."""
        return self.modality or self.inferred_modality

    @property
    def modality_text(self) -> str:
        """``CT``, ``CT (from intensities)`` or ``?`` (the case table's column)."""
        from engine.data.modality import describe_modality

        return describe_modality(self.shown_modality, self.modality is None) if self.shown_modality else "?"

    @property
    def usable(self) -> bool:
        """Ready for training: readable image with a readable label."""
        return self.ok and self.label is not None

    @property
    def is_dicom(self) -> bool:
        return bool(self.image_files) or self.image.is_dir()

    def fail(self, message: str) -> None:
        self.status = "error"
        self.error = message

    def to_json(self) -> dict:
        g = self.geometry
        return {
            "id": self.id,
            "image": str(self.image),
            "label": str(self.label) if self.label else None,
            "modality": self.modality,
            "modality_from_intensities": self.inferred_modality if self.modality is None else None,
            "size": list(g.size) if g else None,
            "spacing": [round(v, 6) for v in g.spacing] if g else None,
            "origin": [round(v, 6) + 0.0 for v in g.origin] if g else None,
            "direction": [round(v, 6) + 0.0 for v in g.direction] if g else None,
            "labels": list(self.label_values),
            "status": self.status,
            "error": self.error,
            "warnings": list(self.warnings),
            "label_resampled": self.label_resampled,
        }


@dataclass
class ScanResult:
    root: Path
    layout: str  # "nnunet" | "msd" | "paired" | "dicom" | "files" | "mixed"
    cases: list[CaseRef]
    label_table: LabelTable
    notes: list[str] = field(default_factory=list)

    @property
    def usable_cases(self) -> list[CaseRef]:
        return [c for c in self.cases if c.usable]

    @property
    def error_cases(self) -> list[CaseRef]:
        return [c for c in self.cases if not c.ok]

    @property
    def unlabeled_cases(self) -> list[CaseRef]:
        return [c for c in self.cases if c.ok and c.label is None]

    def case(self, case_id: str) -> CaseRef:
        for c in self.cases:
            if c.id == case_id:
                return c
        raise KeyError(case_id)

    def summary(self) -> str:
        ready = len(self.usable_cases)
        parts = [f"{ready} case{'s' if ready != 1 else ''} ready"]
        if self.unlabeled_cases:
            parts.append(f"{len(self.unlabeled_cases)} unlabeled")
        parts.append(f"{len(self.error_cases)} skipped")
        return ", ".join(parts)

    def to_json(self) -> dict:
        return {
            "root": str(self.root),
            "layout": self.layout,
            "cases": [c.to_json() for c in self.cases],
            "labels": self.label_table.names_by_value(),
            "summary": self.summary(),
            "notes": list(self.notes),
        }
