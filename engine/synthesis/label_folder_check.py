"""Does a folder of label maps fit the run it is to be drawn by?

A generator draws what its training labels meant: value 1 of a chest CT run is "lung" whatever
the folder's maps meant by 1. So before a folder is used, its label values are checked against the
run's table (a value the run never saw cannot be drawn: refused), and its label names (from a
labels.json, a dataset.json or 3D Slicer segment names beside the maps) against the run's names.
Differences refuse the folder unless the user accepts them; accepted, they are said in a warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.labels import LabelTable, parse_label_names, read_labels_json, slicer_segment_names
from engine.errors import DataError


@dataclass
class FolderFit:
    refused: list[str] = field(default_factory=list)  # values the run cannot draw: always refused
    differences: list[str] = field(default_factory=list)  # names that differ: refused unless accepted
    notes: list[str] = field(default_factory=list)  # what could not be checked

    def message(self, folder: Path) -> str:
        return (
            f"{folder}: the label maps do not fit this run: "
            + "; ".join(self.refused + self.differences)
            + "."
        )


def folder_label_names(folder: Path, headers: list[dict[str, str]]) -> dict[int, str]:
    """The names the folder gives its label values: labels.json, dataset.json (in the folder or the
    one above it), or the segment names of 3D Slicer .seg.nrrd headers."""
    names: dict[int, str] = {}
    for meta in headers:
        for value, name in slicer_segment_names(meta).items():
            names.setdefault(value, name)
    for place in (folder, folder.parent):
        dataset_json = place / "dataset.json"
        if dataset_json.is_file():
            try:
                data = json.loads(dataset_json.read_text(encoding="utf-8"))
                if isinstance(data, dict) and "labels" in data:
                    names.update(parse_label_names(data["labels"], dataset_json))
            except (OSError, ValueError, DataError):
                pass
        labels_json = place / "labels.json"
        if labels_json.is_file():
            names.update(read_labels_json(labels_json))
            break
    return names


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.lower().replace("_", " ").split()) == " ".join(b.lower().replace("_", " ").split())


def check_folder_fit(
    folder: Path, values_by_file: dict[str, list[int]], names: dict[int, str], run: LabelTable
) -> FolderFit:
    """Compare the folder's label values and names with the run's label table."""
    fit = FolderFit()
    known = set(run.values)
    for file, values in sorted(values_by_file.items()):
        unknown = sorted(set(values) - known)
        if unknown:
            fit.refused.append(
                f"{file} holds label value(s) {unknown[:8]} that the run was not trained on "
                f"(the run knows {run.values})"
            )
    used = sorted({v for values in values_by_file.values() for v in values} - {0})
    if not names:
        if used:
            fit.notes.append(
                f"{folder} does not name its labels (no labels.json beside the maps); they are drawn as the "
                "run's " + ", ".join(f"{v} {run.name(v)}" for v in used if v in known)
            )
        return fit
    for value in sorted((set(names) & known) | (set(used) & known)):
        theirs, ours = names.get(value), run.name(value)
        if value == 0 or theirs is None or ours == f"label {value}":
            continue
        if not _same_name(theirs, ours):
            fit.differences.append(f"value {value} is '{theirs}' in the folder but '{ours}' in the run")
    return fit
