"""The nnU-Net v2 raw layout: Dataset5NN_<Name>/dataset.json, imagesTr/, labelsTr/.

Labels are remapped to consecutive classes 0..n-1 (class i = the i-th label value of the table in
ascending order), and dataset.json names them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine import APP_NAME, __version__
from engine.data.labels import LabelTable

FILE_ENDING = ".nii.gz"
CHANNEL = {"CT": "CT", "MR": "MRI"}
REAL_PREFIX = "real_"


def image_name(nnunet_id: str) -> str:
    return f"{nnunet_id}_0000{FILE_ENDING}"


def label_name(nnunet_id: str) -> str:
    return f"{nnunet_id}{FILE_ENDING}"


def class_names(table: LabelTable) -> dict[str, int]:
    """dataset.json ``labels``: name -> class, consecutive from 0, class 0 called ``background``."""
    out: dict[str, int] = {}
    for cls, value in enumerate(table.values):
        name = "background" if cls == 0 else (table.name(value).strip() or f"label {value}")
        if name in out:
            name = f"{name} ({value})"
        out[name] = cls
    return out


def needs_remap(table: LabelTable) -> bool:
    return table.values != list(range(len(table.values)))


def to_classes(label: np.ndarray, table: LabelTable) -> np.ndarray:
    """Stored label values -> consecutive classes (values outside the table become 0)."""
    lut = np.zeros(max(int(label.max()) if label.size else 0, table.values[-1]) + 1, dtype=np.uint16)
    for cls, value in enumerate(table.values):
        lut[value] = cls
    out = lut[label]
    return out.astype(np.uint8 if len(table.values) <= 256 else np.uint16, copy=False)


def dataset_json(table: LabelTable, modality: str, n_training: int, name: str, n_real: int = 0) -> dict:
    return {
        "name": name,
        "description": (
            f"Synthetic {modality} volumes made by {APP_NAME} {__version__}"
            + (f", mixed with {n_real} real cases (ids starting with '{REAL_PREFIX}')" if n_real else "")
            + ". Research use only, not for diagnosis."
        ),
        "channel_names": {"0": CHANNEL[modality]},
        "labels": class_names(table),
        "numTraining": int(n_training),
        "file_ending": FILE_ENDING,
        "overwrite_image_reader_writer": "SimpleITKIO",
    }


def write_dataset_json(folder: Path, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dataset.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path
