"""What kind of file is this? Volume formats by extension, DICOM by its magic bytes."""

from __future__ import annotations

from pathlib import Path

VOLUME_EXTENSIONS = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
DICOM_EXTENSIONS = (".dcm", ".dicom", ".ima")
IGNORED_NAMES = {"dicomdir", "thumbs.db", ".ds_store", "license", "license.txt", "readme", "readme.md"}
SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"


def volume_extension(path: Path) -> str | None:
    name = path.name.lower()
    for ext in VOLUME_EXTENSIONS:
        if name.endswith(ext):
            return ext
    return None


def strip_extensions(name: str) -> str:
    """'case_01.nii.gz' -> 'case_01'; 'seg.seg.nrrd' -> 'seg.seg'; 'IM0001.dcm' -> 'IM0001'."""
    lower = name.lower()
    for ext in VOLUME_EXTENSIONS + DICOM_EXTENSIONS:
        if lower.endswith(ext):
            return name[: -len(ext)]
    return name


def is_hidden_or_junk(path: Path) -> bool:
    n = path.name
    return n.startswith(".") or n.startswith("._") or n.lower() in IGNORED_NAMES or n.endswith("~")


def has_dicom_magic(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def looks_like_dicom(path: Path) -> bool:
    """DICOM magic, or a DICOM extension (files without a preamble are still tried as DICOM)."""
    if has_dicom_magic(path):
        return True
    return path.name.lower().endswith(DICOM_EXTENSIONS)
