"""What a layout finder returns before the headers are checked."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.data.cases import CaseRef
from engine.data.dicom_series import DicomSeries


@dataclass
class Found:
    layout: str
    cases: list[CaseRef] = field(default_factory=list)
    series: dict[str, DicomSeries] = field(default_factory=dict)  # case id -> its DICOM series
    seg_series: dict[str, DicomSeries] = field(default_factory=dict)  # case id -> DICOM SEG
    label_names: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, case: CaseRef) -> CaseRef:
        case.id = unique_id(case.id or "case", {c.id for c in self.cases})
        self.cases.append(case)
        return case


def unique_id(wanted: str, taken: set[str]) -> str:
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}_{n}" in taken:
        n += 1
    return f"{wanted}_{n}"
