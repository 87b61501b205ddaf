"""DICOM trees: read headers only, group files by SeriesInstanceUID whatever the folders, and check
each series is one regular stack of slices (one orientation, no duplicated or interleaved slices,
uniform spacing)."""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from engine.data.formats import SEG_SOP_CLASS
from engine.data.geometry import Geometry
from engine.errors import DataError

log = logging.getLogger(__name__)

RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
MEDIA_DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"  # DICOMDIR
SPACING_TOLERANCE = 0.05  # relative deviation of a slice gap from the median gap
UNCOMPRESSED = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}
INTERLEAVE_TAGS = (
    "EchoNumbers",
    "AcquisitionNumber",
    "TemporalPositionIdentifier",
    "TriggerTime",
    "ImageType",
    "DiffusionBValue",
)
_TAGS = [
    "SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "Modality",
    "Rows", "Columns", "PixelSpacing", "ImagePositionPatient", "ImageOrientationPatient",
    "InstanceNumber", "NumberOfFrames", "BitsAllocated", "SamplesPerPixel", "SeriesNumber",
    "SeriesDescription", "ReferencedSeriesSequence", "SegmentSequence", "WindowCenter",
    "WindowWidth", "PhotometricInterpretation", "SpacingBetweenSlices", *INTERLEAVE_TAGS,
]


@dataclass
class DicomFile:
    path: Path
    sop_class: str
    sop_instance: str
    series_uid: str
    modality: str | None
    rows: int | None
    cols: int | None
    pixel_spacing: tuple[float, float] | None
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    instance_number: int | None
    frames: int
    series_number: int | None
    series_description: str
    referenced_series: str | None
    segments: dict[int, str]
    window: tuple[float, float] | None
    interleave_keys: tuple
    expected_pixel_bytes: int | None
    pixel_data_end: int | None = None  # byte offset where the pixel data ends (None: not known)
    file_size: int | None = None
    slice_spacing: float | None = None  # SpacingBetweenSlices (what GDCM gives a single slice)


@dataclass
class DicomSeries:
    uid: str
    files: list[DicomFile] = field(default_factory=list)

    @property
    def first(self) -> DicomFile:
        return self.files[0]

    @property
    def is_seg(self) -> bool:
        return self.first.sop_class == SEG_SOP_CLASS

    @property
    def folder(self) -> Path:
        return Path(os.path.commonpath([str(f.path.parent) for f in self.files]))


def _float_list(value) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None


class NotAnImage(Exception):
    """A DICOM file that holds no image and is skipped quietly (a DICOMDIR index)."""


def _read_header(path: Path) -> tuple[pydicom.Dataset, int | None, int]:
    """The header without pixel data, where the pixel data ends (from its element header) and the
    file size: a file shorter than that end is truncated."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        try:
            ds = pydicom.dcmread(fh, stop_before_pixels=True, specific_tags=_TAGS, force=False)
        except InvalidDicomError:
            fh.seek(0)
            ds = pydicom.dcmread(fh, stop_before_pixels=True, specific_tags=_TAGS, force=True)
            if "SOPClassUID" not in ds and "SeriesInstanceUID" not in ds:
                raise DataError(f"{path}: not a DICOM file (no DICOM header found).") from None
        return ds, _pixel_data_end(fh, ds), size


def _pixel_data_end(fh, ds: pydicom.Dataset) -> int | None:
    """After dcmread(stop_before_pixels) the file position is at the pixel data element, if any.
    Returns -1 when the file ends before any pixel data."""
    start = fh.tell()
    head = fh.read(12)
    if len(head) == 0:
        return -1
    if len(head) < 8:
        return start + 8
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        return None
    order = "little" if little else "big"
    group, elem = int.from_bytes(head[0:2], order), int.from_bytes(head[2:4], order)
    if group != 0x7FE0 or elem not in (0x0008, 0x0009, 0x0010):  # (float / double float) pixel data
        return None
    if implicit:
        header, length = 8, int.from_bytes(head[4:8], order)
    elif head[4:6] in (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN"):
        if len(head) < 12:
            return start + len(head) + 1  # the element header itself is cut off
        header, length = 12, int.from_bytes(head[8:12], order)
    else:
        header, length = 8, int.from_bytes(head[6:8], order)
    if length == 0xFFFFFFFF:  # encapsulated (compressed) frames: the length is not known up front
        return None
    return start + header + length


def read_dicom_file(path: Path) -> DicomFile:
    """Header of one DICOM file (no pixel data). Raises DataError when it is not usable DICOM,
    NotAnImage for a DICOMDIR."""
    try:
        ds, pixel_end, file_size = _read_header(path)
    except DataError:
        raise
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    except Exception as exc:
        raise DataError(f"{path}: the DICOM header cannot be read ({exc}); the file may be damaged.") from None
    media_class = str(getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", "") or "")
    if media_class == MEDIA_DIRECTORY_SOP_CLASS:
        raise NotAnImage(path)
    series_uid = str(ds.get("SeriesInstanceUID", "") or "")
    if not series_uid:
        raise DataError(f"{path}: DICOM file without a SeriesInstanceUID; cannot tell which series it belongs to.")
    ref_series = None
    if "ReferencedSeriesSequence" in ds and len(ds.ReferencedSeriesSequence):
        ref_series = str(ds.ReferencedSeriesSequence[0].get("SeriesInstanceUID", "")) or None
    segments = {}
    for item in ds.get("SegmentSequence", []) or []:
        try:
            segments[int(item.SegmentNumber)] = str(item.get("SegmentLabel", "") or f"segment {item.SegmentNumber}")
        except (AttributeError, ValueError, TypeError):
            continue
    rows, cols = ds.get("Rows"), ds.get("Columns")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    expected = None
    ts = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    if rows and cols and ts in UNCOMPRESSED:
        bits = int(ds.get("BitsAllocated", 16) or 16)
        spp = int(ds.get("SamplesPerPixel", 1) or 1)
        expected = int(rows) * int(cols) * frames * spp * max(bits, 8) // 8
    wc, ww = ds.get("WindowCenter"), ds.get("WindowWidth")
    window = None
    try:
        if wc is not None and ww is not None:
            wc = wc[0] if isinstance(wc, pydicom.multival.MultiValue) else wc
            ww = ww[0] if isinstance(ww, pydicom.multival.MultiValue) else ww
            window = (float(wc), float(ww)) if float(ww) > 0 else None
    except (TypeError, ValueError):
        window = None
    spacing = _float_list(ds.get("PixelSpacing"))
    return DicomFile(
        path=path,
        sop_class=str(ds.get("SOPClassUID", "")),
        sop_instance=str(ds.get("SOPInstanceUID", "")),
        series_uid=series_uid,
        modality=str(ds.get("Modality")) if ds.get("Modality") else None,
        rows=int(rows) if rows else None,
        cols=int(cols) if cols else None,
        pixel_spacing=spacing[:2] if spacing and len(spacing) >= 2 else None,
        position=_float_list(ds.get("ImagePositionPatient")),
        orientation=_float_list(ds.get("ImageOrientationPatient")),
        instance_number=int(ds.InstanceNumber) if ds.get("InstanceNumber") not in (None, "") else None,
        frames=frames,
        series_number=int(ds.SeriesNumber) if ds.get("SeriesNumber") not in (None, "") else None,
        series_description=str(ds.get("SeriesDescription", "") or ""),
        referenced_series=ref_series,
        segments=segments,
        window=window,
        interleave_keys=tuple(str(ds.get(t, "")) for t in INTERLEAVE_TAGS),
        expected_pixel_bytes=expected,
        pixel_data_end=pixel_end,
        file_size=file_size,
        slice_spacing=_positive_float(ds.get("SpacingBetweenSlices")),
    )


def _positive_float(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) and v > 0 else None


def group_by_series(files: list[DicomFile]) -> dict[str, DicomSeries]:
    series: dict[str, DicomSeries] = {}
    for f in files:
        series.setdefault(f.series_uid, DicomSeries(f.series_uid)).files.append(f)
    return series


@dataclass
class SeriesStack:
    """A checked, sorted stack of single-frame slices, or one multi-frame file."""

    files: list[Path]
    geometry: Geometry | None  # None for a multi-frame file (read from SimpleITK instead)
    modality: str | None
    window: tuple[float, float] | None
    sop_instances: list[str]


def check_series(series: DicomSeries) -> SeriesStack:
    """Sort the slices along the normal and check they form one regular volume."""
    files = series.files
    name = series.folder
    first = files[0]
    if first.sop_class == RTSTRUCT_SOP_CLASS:
        raise DataError(
            f"{name}: an RT Structure Set, which SynthVol does not read as labels. Convert it to a "
            "label map or a DICOM SEG (e.g. in 3D Slicer) and put it beside the image series."
        )
    if first.rows is None or first.cols is None:
        raise DataError(f"{name}: DICOM series {series.uid} holds no images (no Rows/Columns).")
    if len(files) == 1 and first.frames > 1:
        check_complete(first)
        return SeriesStack([first.path], None, first.modality, first.window, [first.sop_instance])
    if any(f.frames > 1 for f in files):
        if all(f.frames > 1 for f in files):
            raise DataError(
                f"{name}: series {_series_name(series)} is split over {len(files)} multi-frame files; "
                "SynthVol reads one multi-frame file (or one file per slice) per series."
            )
        raise DataError(f"{name}: the series mixes multi-frame and single-frame files; expected one kind.")
    if len(files) == 1:
        return _single_slice(first)
    for f in files:
        if f.position is None or f.orientation is None or len(f.orientation) != 6 or len(f.position) != 3:
            raise DataError(
                f"{f.path}: no ImagePositionPatient/ImageOrientationPatient; the slices cannot be "
                "placed in space."
            )
    sizes = Counter((f.rows, f.cols) for f in files)
    if len(sizes) > 1:
        raise DataError(
            f"{name}: series {_series_name(series)} mixes slice sizes {sorted(sizes)}; "
            "expected one size for every slice."
        )
    orientations = {tuple(np.round(f.orientation, 4)) for f in files}
    if len(orientations) > 1:
        raise DataError(
            f"{name}: series {_series_name(series)} holds slices in {len(orientations)} different "
            "orientations (a localizer or several stacks in one series). Keep one stack per series."
        )
    iop = np.array(first.orientation)
    row_dir, col_dir = iop[:3], iop[3:]
    if min(np.linalg.norm(row_dir), np.linalg.norm(col_dir)) < 1e-6:
        raise DataError(f"{first.path}: ImageOrientationPatient {tuple(iop)} is not a valid orientation.")
    row_dir, col_dir = row_dir / np.linalg.norm(row_dir), col_dir / np.linalg.norm(col_dir)  # as ITK does
    normal = np.cross(row_dir, col_dir)
    normal = normal / max(np.linalg.norm(normal), 1e-12)
    dist = np.array([float(np.dot(normal, f.position)) for f in files])
    order = np.argsort(dist, kind="stable")
    files = [files[i] for i in order]
    dist = dist[order]
    rounded = np.round(dist, 3)
    if len(np.unique(rounded)) < len(files):
        _raise_duplicates(series, files, rounded, name)
    gaps = np.diff(dist)
    median_gap = float(np.median(gaps))
    if median_gap <= 1e-6:
        raise DataError(f"{name}: the slices of series {_series_name(series)} all lie at one position.")
    deviation = np.abs(gaps - median_gap)
    if float(deviation.max()) > SPACING_TOLERANCE * median_gap + 1e-3:
        raise DataError(
            f"{name}: series {_series_name(series)} has non-uniform slice spacing (gaps from "
            f"{gaps.min():.3g} to {gaps.max():.3g} mm, median {median_gap:.3g} mm): slices are missing "
            "or the series mixes stacks. Export the complete series again, or resample it to uniform spacing."
        )
    for f in files:
        check_complete(f)
    ps = first.pixel_spacing or (1.0, 1.0)
    mean_gap = float((dist[-1] - dist[0]) / (len(files) - 1))  # what ITK's series reader uses
    direction = np.stack([row_dir, col_dir, normal], axis=1)
    geometry = Geometry(
        (first.cols, first.rows, len(files)),
        (float(ps[1]), float(ps[0]), mean_gap),
        tuple(float(v) for v in files[0].position),
        tuple(float(v) for v in direction.ravel()),
    )
    return SeriesStack(
        [f.path for f in files], geometry, first.modality, first.window, [f.sop_instance for f in files]
    )


def _single_slice(f: DicomFile) -> SeriesStack:
    """One 2-D slice: a volume one slice thick, placed as GDCM places it (without a position or
    orientation: at the origin, axis-aligned; across the slice SpacingBetweenSlices, else 1 mm)."""
    check_complete(f)
    ps = f.pixel_spacing or (1.0, 1.0)
    if f.orientation is not None and len(f.orientation) == 6:
        row, col = np.array(f.orientation[:3]), np.array(f.orientation[3:])
        if min(np.linalg.norm(row), np.linalg.norm(col)) < 1e-6:
            raise DataError(f"{f.path}: ImageOrientationPatient {f.orientation} is not a valid orientation.")
        row, col = row / np.linalg.norm(row), col / np.linalg.norm(col)
        normal = np.cross(row, col)
        direction = np.stack([row, col, normal / max(np.linalg.norm(normal), 1e-12)], axis=1)
    else:
        direction = np.eye(3)
    position = f.position if f.position is not None and len(f.position) == 3 else (0.0, 0.0, 0.0)
    geometry = Geometry(
        (int(f.cols), int(f.rows), 1),
        (float(ps[1]), float(ps[0]), f.slice_spacing or 1.0),
        tuple(float(v) for v in position),
        tuple(float(v) for v in direction.ravel()),
    )
    return SeriesStack([f.path], geometry, f.modality, f.window, [f.sop_instance])


def check_complete(f: DicomFile) -> None:
    """A slice whose pixel data is cut off (a truncated copy) is an error, found from the sizes alone."""
    if f.pixel_data_end == -1 and f.rows and f.cols:
        raise DataError(
            f"{f.path}: the file ends before its pixel data ({f.file_size} bytes): it is truncated. "
            "Copy the series again from its source."
        )
    if f.pixel_data_end is not None and f.file_size is not None and f.file_size < f.pixel_data_end:
        raise DataError(
            f"{f.path}: the file is truncated ({f.file_size} bytes, but its pixel data ends at byte "
            f"{f.pixel_data_end}). Copy the series again from its source."
        )
    if f.pixel_data_end is None and f.expected_pixel_bytes is not None and f.file_size is not None:
        if f.file_size < f.expected_pixel_bytes:
            raise DataError(
                f"{f.path}: the file is truncated ({f.file_size} bytes, the pixel data alone needs "
                f"{f.expected_pixel_bytes}). Copy the series again from its source."
            )


def _series_name(series: DicomSeries) -> str:
    f = series.first
    parts = [p for p in (f.series_number, f.series_description) if p not in (None, "")]
    return " ".join(str(p) for p in parts) or series.uid


def _raise_duplicates(series: DicomSeries, files: list[DicomFile], rounded: np.ndarray, name: Path):
    by_pos: dict[float, list[DicomFile]] = defaultdict(list)
    for f, d in zip(files, rounded, strict=False):
        by_pos[float(d)].append(f)
    dup_pos = [d for d, fs in by_pos.items() if len(fs) > 1]
    stacks = max(len(fs) for fs in by_pos.values())
    differing = []
    for i, tag in enumerate(INTERLEAVE_TAGS):
        values = {f.interleave_keys[i] for f in files}
        if len(values) > 1:
            differing.append(f"{tag} {', '.join(sorted(values)[:4])}")
    if differing:
        raise DataError(
            f"{name}: series {_series_name(series)} interleaves {stacks} stacks at the same slice "
            f"positions (they differ in {'; '.join(differing)}). SynthVol needs one stack per series: "
            "split it (e.g. dcm2niix writes one volume per echo)."
        )
    raise DataError(
        f"{name}: series {_series_name(series)} has duplicated slice positions ({len(dup_pos)} "
        f"positions appear more than once, e.g. {dup_pos[0]:.2f} mm along the normal). "
        "Remove the duplicate files."
    )
