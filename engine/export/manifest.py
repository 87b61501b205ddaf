"""manifest.json (what was exported, how, with every UID and checksum) and README.txt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine import APP_NAME, __version__
from engine.data.labels import LabelTable
from engine.export.codes import codes_for
from engine.export.dicom_header import Provenance
from engine.export.dicom_seg import segment_numbers

MANIFEST = "manifest.json"
README = "README.txt"
MANIFEST_VERSION = 1


def label_table_json(table: LabelTable) -> list[dict[str, Any]]:
    numbers = segment_numbers(table)
    out = []
    for cls, value in enumerate(table.values):
        info = table.entries[value]
        entry: dict[str, Any] = {
            "value": value,
            "name": info.name,
            "color_rgb": list(info.color),
            "nnunet_class": cls,
        }
        if value in numbers:
            entry["segment_number"] = numbers[value]
            entry["snomed"] = codes_for(info.name).to_json()
        out.append(entry)
    return out


def build_manifest(
    *,
    prov: Provenance,
    batch: str,
    config: dict[str, Any],
    table: LabelTable,
    cases: list[dict[str, Any]],
    run_info: dict | None,
    quality: dict | None,
    nnunet: dict | None,
) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "application": {"name": APP_NAME, "version": __version__},
        "synthetic_data": True,
        "voxel_sha256": (
            "sha256 of the exported voxel array as stored (cases[].pixels.stored_dtype, cases[].label_dtype), "
            "little-endian, C order over (z, y, x) = NumPy order of SimpleITK.GetArrayFromImage"
        ),
        "export": {"time": prov.when.isoformat(timespec="seconds"), "batch": batch, "config": config},
        "run_info": dict(run_info or {}),
        "label_table": label_table_json(table),
        "cases": cases,
    }
    if nnunet is not None:
        manifest["nnunet"] = nnunet
    if quality is not None:
        manifest["quality"] = quality
    return manifest


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n", encoding="utf-8")
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def readme_text(
    prov: Provenance, n_synthetic: int, n_real: int, formats: tuple[str, ...], n_augmented: int = 0
) -> str:
    lines = [
        f"{APP_NAME} export - SYNTHETIC DATA",
        "",
        f"This folder holds {n_synthetic} synthetic CT/MR volume(s) with their label maps, made by",
        f"{APP_NAME} {__version__} on {prov.when.isoformat(timespec='seconds')}.",
        "",
        "They are NOT images of real patients. A generative model (a label-map-conditioned GAN",
        "trained on the user's own scans) turned label maps into images, so every image is labeled",
        "by construction. Patient names (SYNTHETIC^<case>), IDs (SYN-...) and all DICOM UIDs are",
        "invented; every DICOM file carries Synthetic Data (0008,001C) = YES and names",
        f"{APP_NAME} as Synthesizing Equipment.",
        "",
        "NOT FOR DIAGNOSTIC OR CLINICAL USE. Research and model development only.",
        "",
    ]
    if n_augmented:
        lines += [
            f"EXCEPT {n_augmented} case(s) made by classic augmentation (label source augmented-real,",
            "manifest image_from 'augmented real case'): those are REAL patients' scans, randomly",
            "warped and re-contrasted, with their real label maps. They carry no name, ID, date or UID",
            "of the patient, but their pixels are patient data: handle them as such.",
            "",
        ]
    lines += [
        "Contents:",
        "  manifest.json   how the data was made (run, checkpoint sha256, label sources, seeds),",
        "                  every UID, sha256 of every image and label voxel array, the label table",
    ]
    if "dicom" in formats:
        lines += [
            "  dicom/<case>/   CT_1/ or MR_1/: one DICOM file per slice (CT/MR Image Storage);",
            "                  SEG_100/seg.dcm: the labels as DICOM SEG (same study and frame of reference)",
        ]
    if "nifti" in formats:
        lines.append("  nifti/          <case>_image.nii.gz and <case>_label.nii.gz on the same grid")
    if "slicer" in formats:
        lines.append("  slicer/         <case>.nrrd and <case>.seg.nrrd: open both in 3D Slicer (labels named, coloured)")
    if "nnunet" in formats:
        lines.append("  nnUNet_raw/     an nnU-Net v2 dataset (labels remapped to consecutive classes)")
        if n_real:
            lines.append(f"                  including {n_real} REAL case(s) with ids starting 'real_'")
    lines += [
        "",
        "Pixels can leak too: a generator may reproduce parts of its training images. Check the",
        "memorisation report before sharing this data outside the institution.",
        "",
    ]
    return "\n".join(lines)


def write_readme(folder: Path, text: str) -> Path:
    path = folder / README
    path.write_text(text, encoding="utf-8")
    return path
