"""What a viewer needs of a case: voxel arrays in (z, y, x) order with spacing and orientation, and
the header tags to show in a table. (The GUI shows these; it never reads files itself.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from engine.data.cases import CaseRef
from engine.data.loading import load_case
from engine.data.modality import ct_body_region, describe_modality, infer_modality

UNITS = {"CT": "HU (Hounsfield units)", "MR": "arbitrary (MR signal intensity)"}


@dataclass
class ViewVolume:
    image: np.ndarray  # (z, y, x) float32
    label: np.ndarray | None  # (z, y, x) stored label values
    spacing: tuple[float, float, float]  # (x, y, z) mm
    origin: tuple[float, float, float]
    direction: tuple[float, ...]
    window: tuple[float, float] | None  # (center, width) from the file (DICOM), else None
    modality: str | None  # declared, else inferred from the intensities (see modality_inferred)
    title: str = ""
    modality_inferred: bool = False  # the modality comes from the intensities, not the header
    body_region: str | None = None  # CT: "head" or "body" (picks the opening window preset)
    stored_type: str = ""  # the file's pixel type, e.g. "16-bit signed integer"
    value_range: tuple[float, float] = (0.0, 0.0)  # min, max of the finite voxels

    @property
    def modality_text(self) -> str:
        return describe_modality(self.modality, self.modality_inferred)

    def info_rows(self) -> list[tuple[str, str]]:
        """What Image info shows of the loaded voxels: modality (and how it is known), data type,
        value range and units, and the body region a CT window was chosen for."""
        lo, hi = self.value_range
        rows = [
            ("Modality", self.modality_text),
            ("Data type", self.stored_type or "unknown"),
            ("Value range", f"{lo:.6g} to {hi:.6g}"),
            ("Units", UNITS.get(self.modality or "", "unknown")),
        ]
        if self.body_region:
            rows.append(("Body region (for the window)", f"{self.body_region} (from the image)"))
        return rows


def view_from_images(image: sitk.Image, label: sitk.Image | None, window=None, modality=None, title="") -> ViewVolume:
    """The viewer's copy of ``image`` (float32) and ``label``; a modality not given is inferred
    from the intensities (and said so), and a CT is classed head or body for its window."""
    stored = image.GetPixelIDTypeAsString()
    arr = sitk.GetArrayFromImage(sitk.Cast(image, sitk.sitkFloat32))
    mask = np.isfinite(arr)
    finite = arr if mask.all() else arr[mask]
    del mask
    value_range = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    inferred = modality is None and finite.size > 0
    if inferred:
        modality = infer_modality(finite)
    region = ct_body_region(arr, image.GetSpacing(), image.GetDirection()) if modality == "CT" else None
    return ViewVolume(
        image=arr,
        label=sitk.GetArrayFromImage(label) if label is not None else None,
        spacing=tuple(image.GetSpacing()),
        origin=tuple(image.GetOrigin()),
        direction=tuple(image.GetDirection()),
        window=window,
        modality=modality,
        title=title,
        modality_inferred=inferred,
        body_region=region,
        stored_type=stored,
        value_range=value_range,
    )


def load_for_view(case: CaseRef) -> ViewVolume:
    loaded = load_case(case, as_float=False)
    return view_from_images(loaded.image, loaded.label, case.window, case.modality, case.id)


def load_files_for_view(image_path: Path, label_path: Path | None, modality: str | None = None, title: str = "") -> ViewVolume:
    image = sitk.ReadImage(str(image_path))
    label = sitk.ReadImage(str(label_path)) if label_path and Path(label_path).exists() else None
    if label is not None and label.GetSize() != image.GetSize():
        label = sitk.Resample(label, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    return view_from_images(image, label, None, modality, title)


def header_tags(case: CaseRef) -> list[tuple[str, str, str]]:
    """(tag, name, value) rows: the DICOM header of the case's first slice (no pixel data), or the
    volume file's header fields."""
    if case.image_files:
        return dicom_tags(case.image_files[len(case.image_files) // 2])
    path = case.image
    if path.is_file() and path.suffix.lower() in (".dcm", "") and _is_dicom(path):
        return dicom_tags(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return []
    return [("", key, reader.GetMetaData(key)[:200]) for key in sorted(reader.GetMetaDataKeys())]


def _is_dicom(path: Path) -> bool:
    from engine.data.formats import has_dicom_magic

    return has_dicom_magic(path)


def dicom_tags(path: Path) -> list[tuple[str, str, str]]:
    import pydicom

    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True)
    except Exception as exc:
        return [("", "error", str(exc))]
    rows = []
    for elem in ds.iterall():
        if elem.VR == "SQ":
            value = f"<sequence of {len(elem.value)} item(s)>"
        elif elem.VR in ("OB", "OW", "OF", "OD", "UN"):
            value = f"<{elem.VR}, {len(elem.value) if elem.value is not None else 0} bytes>"
        else:
            value = str(elem.value)
        rows.append((f"({elem.tag.group:04X},{elem.tag.element:04X})", elem.name, value[:200]))
    return rows


def image_info(case: CaseRef) -> list[tuple[str, str]]:
    g = case.geometry
    rows = [("Case", case.id), ("Image", str(case.image)), ("Label", str(case.label) if case.label else "none")]
    rows.append(("Modality", case.modality_text if case.shown_modality else "unknown (shown when loaded)"))
    if g:
        rows += [
            ("Size (x, y, z)", " x ".join(map(str, g.size))),
            ("Spacing (mm)", " x ".join(f"{v:.4g}" for v in g.spacing)),
            ("Origin (mm, LPS)", ", ".join(f"{v:.2f}" for v in g.origin)),
            ("Direction", " ".join(f"{v:.3f}" for v in g.direction)),
        ]
    rows.append(("Label values", ", ".join(map(str, case.label_values)) or "-"))
    if case.image_files:
        rows.append(("DICOM files", str(len(case.image_files))))
    rows.append(("Status", "ok" if case.ok else f"error: {case.error}"))
    for w in case.warnings:
        rows.append(("Note", w))
    return rows
