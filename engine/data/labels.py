"""The label table: label values as stored, their names and colours, and the consecutive classes
the models use internally."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.data.content_checks import MAX_LABEL_VALUE
from engine.data.label_colors import label_color
from engine.errors import DataError


@dataclass(frozen=True)
class LabelInfo:
    value: int
    name: str
    color: tuple[int, int, int]


@dataclass
class LabelTable:
    """Labels by stored value. Class index i (0..n-1) is the i-th value in ascending order."""

    entries: dict[int, LabelInfo] = field(default_factory=dict)

    @classmethod
    def from_names(cls, names: dict[int, str]) -> LabelTable:
        table = cls()
        for value in sorted(names):
            table.add(value, names[value])
        if 0 not in table.entries:
            table.add(0, "background")
        return table

    def add(self, value: int, name: str | None = None, color: tuple[int, int, int] | None = None) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) and not (
            isinstance(value, float) and value.is_integer()
        ):
            raise DataError(f"Label value {value!r} is not a whole number.")
        value = int(value)
        if value < 0:
            raise DataError(f"Label value {value} is negative; label maps must hold values >= 0.")
        if value > MAX_LABEL_VALUE:
            raise DataError(
                f"Label value {value} is above {MAX_LABEL_VALUE}, the largest label value SynthVol can store."
            )
        if name is None:
            name = "background" if value == 0 else f"label {value}"
        if color is None:  # by name (bone is ivory in every dataset), else a palette colour not yet used
            taken = {info.color for v, info in self.entries.items() if v != value}
            color = label_color(value, name, taken)
        self.entries[value] = LabelInfo(value, name, tuple(color))

    def ensure(self, values) -> None:
        """Add any value not yet named, as 'label N'."""
        for v in values:
            if int(v) not in self.entries:
                self.add(int(v))

    @property
    def values(self) -> list[int]:
        return sorted(self.entries)

    @property
    def num_classes(self) -> int:
        return len(self.entries)

    def name(self, value: int) -> str:
        info = self.entries.get(int(value))
        return info.name if info else f"label {value}"

    def names_by_value(self) -> dict[str, str]:
        """The JSON form of the CLI contract: {"0": "background", ...}."""
        return {str(v): self.entries[v].name for v in self.values}

    def lookup_to_classes(self) -> np.ndarray:
        """A lookup array: stored value -> class index (unknown values -> 0)."""
        values = self.values
        lut = np.zeros(max(values) + 1, dtype=np.uint8 if len(values) <= 256 else np.uint16)
        for i, v in enumerate(values):
            lut[v] = i
        return lut

    def to_classes(self, label: np.ndarray) -> np.ndarray:
        """Stored values -> class indices; a value the table does not list is an error (never
        silently background)."""
        values = self.values
        label = np.asarray(label)
        if label.size:
            lo, hi = int(label.min()), int(label.max())
            known = np.zeros(max(hi, values[-1]) + 1, dtype=bool)
            known[values] = True
            if lo < 0 or not known[label].all():
                extra = sorted(set(np.unique(label).tolist()) - set(values))
                raise DataError(
                    f"the label map holds values {extra[:10]} that the label table ({values}) does not list."
                )
        return self.lookup_to_classes()[label]

    def to_values(self, classes: np.ndarray) -> np.ndarray:
        values = np.asarray(self.values, dtype=np.int32)
        out = values[np.asarray(classes, dtype=np.int64)]
        top = values[-1]
        return out.astype(np.uint8 if top < 256 else np.uint16)

    def class_of(self, value: int) -> int:
        return self.values.index(int(value))

    def to_json(self) -> dict:
        return {
            "labels": [
                {"value": v, "name": self.entries[v].name, "color": list(self.entries[v].color)}
                for v in self.values
            ]
        }

    @classmethod
    def from_json(cls, data: dict) -> LabelTable:
        """The table of a label_table.json; DataError for anything that is not one (checked before
        any array is sized by its values)."""
        items = data.get("labels") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise DataError("the label table lists no labels (expected {\"labels\": [{\"value\": 0, ...}]})")
        table = cls()
        for item in items:
            if not isinstance(item, dict) or "value" not in item:
                raise DataError(f"label table entry {item!r} has no value")
            name = item.get("name")
            if name is not None and not isinstance(name, str):
                raise DataError(f"label {item['value']!r}: the name {name!r} is not text")
            table.add(item["value"], name, _color(item.get("color")))
        return table

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LabelTable:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls.from_json(data)
        except FileNotFoundError:
            raise DataError(f"{path}: missing; the run folder is incomplete.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: cannot be read ({exc}).") from None
        except DataError as exc:
            raise DataError(f"{path}: {exc}. Restore the run's label_table.json.") from None

    def merged(self, other: LabelTable) -> LabelTable:
        """This table plus the entries of ``other`` it does not have (names here win)."""
        out = LabelTable(dict(self.entries))
        for v, info in other.entries.items():
            if v not in out.entries or out.entries[v].name == f"label {v}":
                out.entries[v] = info
        return out


def _color(value) -> tuple[int, int, int] | None:
    if value is None:
        return None
    if (
        isinstance(value, (list, tuple))
        and len(value) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value)
    ):
        return tuple(value)
    raise DataError(f"colour {value!r} is not three whole numbers from 0 to 255")


def read_labels_json(path: Path) -> dict[int, str]:
    """Read a labels.json beside the data: {"1": "liver"} or {"liver": 1} or [{"value":1,"name":..}]."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read the label names ({exc}). Fix or remove the file.") from None
    if isinstance(data, dict) and "labels" in data:
        data = data["labels"]
    return parse_label_names(data, path)


def parse_label_names(data, source: Path | str) -> dict[int, str]:
    names: dict[int, str] = {}
    try:
        if isinstance(data, list):
            for item in data:
                names[int(item["value"])] = str(item["name"])
        elif isinstance(data, dict):
            for k, v in data.items():
                if isinstance(v, (int, float)) or (isinstance(v, str) and v.lstrip("-").isdigit()):
                    names[int(v)] = str(k)  # nnU-Net v2: {"name": value}
                elif isinstance(v, list):  # nnU-Net region-based labels: take the first value
                    names[int(v[0])] = str(k)
                else:
                    names[int(k)] = str(v)  # MSD: {"1": "liver"}
        else:
            raise TypeError(type(data).__name__)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise DataError(f"{source}: label names are not in a form SynthVol knows ({exc}).") from None
    bad = sorted(v for v in names if not 0 <= v <= MAX_LABEL_VALUE)
    if bad:
        raise DataError(
            f"{source}: label value(s) {bad[:5]} are outside 0-{MAX_LABEL_VALUE}, the values a label map can hold."
        )
    return names


def slicer_segment_names(meta: dict[str, str]) -> dict[int, str]:
    """Segment names of a 3D Slicer .seg.nrrd header (Segment<i>_Name, Segment<i>_LabelValue)."""
    names: dict[int, str] = {}
    i = 0
    while f"Segment{i}_Name" in meta or f"Segment{i}_ID" in meta:
        name = meta.get(f"Segment{i}_Name") or meta.get(f"Segment{i}_ID") or f"segment {i + 1}"
        try:
            value = int(meta.get(f"Segment{i}_LabelValue", i + 1))
        except ValueError:
            value = i + 1
        if 0 < value <= MAX_LABEL_VALUE:
            names.setdefault(value, name)
        i += 1
    return names
