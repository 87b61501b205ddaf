"""The patient-level train/validation split recorded in a run (a block of slices for one case)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class DataSplit:
    mode: str  # "cases" (patient-level) | "slice_block" (one case: a held-out block of slices)
    train_cases: list[str]
    val_cases: list[str]
    val_block: dict[str, list[int]] = field(default_factory=dict)  # case -> [z_start, z_stop) held out
    note: str = ""

    def to_json(self) -> dict:
        return {
            "mode": self.mode,
            "train_cases": self.train_cases,
            "val_cases": self.val_cases,
            "val_block": self.val_block,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: dict) -> DataSplit:
        return cls(
            data["mode"],
            list(data["train_cases"]),
            list(data["val_cases"]),
            {k: list(v) for k, v in data.get("val_block", {}).items()},
            data.get("note", ""),
        )


def make_split(
    case_ids: list[str],
    foreground_slices: dict[str, np.ndarray],
    val_fraction: float = 0.2,
    seed: int = 0,
    context: int = 1,
) -> DataSplit:
    """Hold out whole cases (patients); with one case, hold out a block of its labelled slices,
    separated from the training slices by the 2.5-D context so no label slice is shared."""
    ids = sorted(case_ids)
    if len(ids) >= 2:
        rng = np.random.default_rng(seed)
        n_val = min(len(ids) - 1, max(1, int(round(len(ids) * val_fraction))))
        val = sorted(rng.choice(ids, size=n_val, replace=False).tolist())
        train = [c for c in ids if c not in val]
        return DataSplit("cases", train, val, note=f"{len(train)} training and {len(val)} validation cases")
    case = ids[0]
    fg = np.flatnonzero(foreground_slices[case])
    if fg.size < 10:
        fg = np.arange(len(foreground_slices[case]))
    n_val = max(2, int(round(fg.size * val_fraction)))
    mid = fg[fg.size // 2]
    start = int(max(fg[0], mid - n_val // 2))
    stop = int(min(fg[-1] + 1, start + n_val))
    note = (
        f"one case only: slices {start}-{stop - 1} of {case} are held out for validation "
        f"(training skips {context} slice(s) on each side so no label slice is shared)"
    )
    return DataSplit("slice_block", [case], [case], {case: [start, stop]}, note)


def training_slices(split: DataSplit, shapes: dict[str, int], context: int) -> dict[str, np.ndarray]:
    """Slice indices usable for training per case."""
    out = {}
    for case in split.train_cases:
        z = np.arange(shapes[case])
        if case in split.val_block:
            start, stop = split.val_block[case]
            z = z[(z < start - context) | (z >= stop + context)]
        out[case] = z
    return out


def validation_slices(split: DataSplit, shapes: dict[str, int]) -> dict[str, np.ndarray]:
    out = {}
    for case in split.val_cases:
        if case in split.val_block:
            start, stop = split.val_block[case]
            out[case] = np.arange(start, stop)
        else:
            out[case] = np.arange(shapes[case])
    return out
