"""What to export (cases), how (ExportConfig) and what came out (ExportResult)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from engine.configs import JsonConfig
from engine.errors import ConfigError

FORMATS = ("dicom", "nifti", "nnunet", "slicer")  # every format an export can write
DEFAULT_FORMATS = ("dicom", "nifti", "nnunet")  # what an export writes unless told otherwise
FORMAT_FOLDERS = {"dicom": "dicom", "nifti": "nifti", "nnunet": "nnUNet_raw", "slicer": "slicer"}  # OUT/<folder>
SEG_TYPES = ("BINARY", "LABELMAP")
MODALITIES = ("CT", "MR")
_SAFE_CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class ExportCase:
    """One case to export. ``load`` is called once, lazily, and returns ``(image, label)`` on the
    same grid: the image in HU (CT) or MR units, the label with the original label values."""

    case_id: str
    modality: str
    load: Callable[[], tuple[sitk.Image, sitk.Image]]
    meta: dict[str, Any] = field(default_factory=dict)
    synthetic: bool = True


@dataclass
class ExportConfig(JsonConfig):
    """Where and what to write (the config convention of engine.configs)."""

    out_dir: Path
    formats: tuple[str, ...] = DEFAULT_FORMATS
    dataset_name: str = "SynthVol"  # nnU-Net Dataset5NN_<Name>, sanitised to [A-Za-z0-9]
    dataset_id: int = 501  # 500-999 (1-10 are the Decathlon tasks)
    overwrite: bool = False
    mix_synthetic_per_real: float | None = None
    seg_type: str = "BINARY"  # or "LABELMAP" (RLE; needs 2025+ readers)

    def __post_init__(self) -> None:
        if isinstance(self.out_dir, str):
            self.out_dir = Path(self.out_dir)
        if isinstance(self.formats, (list, str)):
            self.formats = (self.formats,) if isinstance(self.formats, str) else tuple(self.formats)

    def validate(self) -> ExportConfig:
        """Raise ConfigError with a message that says which setting is wrong and how to fix it;
        return self."""
        if not isinstance(self.out_dir, Path) or str(self.out_dir).strip() in ("", "."):
            raise ConfigError("out_dir: choose a folder to export into (it must not exist yet).")
        if not self.formats:
            raise ConfigError(f"formats: choose at least one of {', '.join(FORMATS)}.")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise ConfigError(f"formats: unknown {', '.join(map(repr, unknown))}; use {', '.join(FORMATS)}.")
        if len(set(self.formats)) != len(self.formats):
            raise ConfigError("formats: each format may be named once.")
        if not sanitise_dataset_name(self.dataset_name):
            raise ConfigError(
                f"dataset_name: {self.dataset_name!r} has no letters or digits; nnU-Net needs a name "
                "made of A-Z, a-z and 0-9."
            )
        if isinstance(self.dataset_id, bool) or not isinstance(self.dataset_id, int):
            raise ConfigError(f"dataset_id: expected a whole number, got {self.dataset_id!r}.")
        if not 500 <= self.dataset_id <= 999:
            raise ConfigError(
                f"dataset_id: {self.dataset_id} is outside 500-999 (lower ids clash with public "
                "nnU-Net datasets such as the Decathlon)."
            )
        ratio = self.mix_synthetic_per_real
        if ratio is not None and (
            isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio >= 0
        ):
            raise ConfigError(
                f"mix_synthetic_per_real: expected a number >= 0 (synthetic cases per real case), got {ratio!r}."
            )
        if self.seg_type not in SEG_TYPES:
            raise ConfigError(f"seg_type: expected one of {', '.join(SEG_TYPES)}, got {self.seg_type!r}.")
        return self

    @property
    def nnunet_dataset(self) -> str:
        """The nnU-Net dataset folder name, e.g. ``Dataset501_SynthVol``."""
        return f"Dataset{self.dataset_id:03d}_{sanitise_dataset_name(self.dataset_name)}"


@dataclass
class ExportResult:
    out_dir: Path
    n_cases: int
    files: int
    bytes_written: int
    seconds: float
    manifest_path: Path
    quality_report: Path | None = None  # the report.json put into manifest.json, if any


def sanitise_dataset_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", str(name))


def check_case_id(case_id: str) -> None:
    if not isinstance(case_id, str) or not _SAFE_CASE_ID.match(case_id):
        raise ConfigError(
            f"Case id {case_id!r} cannot be used in file names: use 1-64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit."
        )
