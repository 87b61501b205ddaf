"""discover(): find the cases in a dataset folder and check each one, never stopping on a bad file."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from engine import APP_NAME
from engine.data.cases import CaseRef, ScanResult
from engine.data.content_checks import check_image_values, check_label_values
from engine.data.dicom_series import check_series
from engine.data.found import Found
from engine.data.geometry import describe_difference, overlap_fraction, same_grid
from engine.data.label_coverage import coverage_note, covered_slices
from engine.data.labels import LabelTable, read_labels_json, slicer_segment_names
from engine.data.layout_nnunet import find_nnunet_or_msd, read_dataset_json
from engine.data.layout_tree import find_in_tree
from engine.data.modality import infer_modality
from engine.data.naming import modality_from_name
from engine.data.synthvol_exports import (
    export_label_names,
    export_read_folder,
    export_root_of,
    is_synthvol_export,
)
from engine.data.volume_io import read_header, read_voxels
from engine.errors import DataError
from engine.events import Control, EventCallback, Log, Progress, ignore_events

log = logging.getLogger(__name__)
MODALITIES = ("CT", "MR")


def discover(
    root: Path | str,
    modality: str | None = None,
    verify: bool = True,
    on_event: EventCallback = ignore_events,
    control: Control | None = None,
    workers: int = 2,
) -> ScanResult:
    """Find and check every case under ``root``.

    verify=True reads the voxels of volume files (NIfTI, NRRD, MHA) and label maps to catch
    truncated, all-NaN and constant images and to list the label values; DICOM series are checked
    from their headers. A bad file becomes a case with status "error"; the scan goes on.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(f"{root}: no such file or folder.")
    if modality is not None and modality.upper() not in MODALITIES:
        raise DataError(f"Unknown modality {modality!r}; use CT or MR.")
    control = control or Control()
    on_event(Log("info", f"Scanning {root}"))
    found = _find(root, on_event, control)

    total = len(found.cases)
    done = 0

    def run(case: CaseRef) -> CaseRef:
        if control.stop_requested:
            return case
        if case.ok:
            try:
                inspect_case(case, found, verify)
            except DataError as exc:
                case.fail(str(exc))
            except Exception as exc:  # a reader we do not control misbehaved: report, go on
                log.exception("unexpected error on %s", case.image)
                case.fail(f"{case.image}: unexpected error while reading ({type(exc).__name__}: {exc}).")
        if modality is not None:
            case.modality = modality.upper()
        return case

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for case in pool.map(run, found.cases):
            done += 1
            control.raise_if_stopped()
            on_event(Progress(done, total, f"Checked {case.id}"))
            if not case.ok:
                on_event(Log("warning", f"Skipped {case.id}: {case.error}"))

    names = dict(found.label_names)  # dataset.json, DICOM SEG, Slicer .seg.nrrd; labels.json wins
    export = export_root_of(root if root.is_dir() else root.parent)
    if export is not None:  # a SynthVol export names its labels in its manifest
        for value, name in export_label_names(export).items():
            names.setdefault(value, name)
    labels_json = (root if root.is_dir() else root.parent) / "labels.json"
    if labels_json.is_file():
        try:
            names.update(read_labels_json(labels_json))
        except DataError as exc:
            found.notes.append(str(exc))
    table = LabelTable.from_names(names) if names else LabelTable.from_names({0: "background"})
    for case in found.cases:
        if case.ok:
            table.ensure(case.label_values)
    if not found.cases:
        found.notes.append(
            f"{root}: no image files found (looked for DICOM, NIfTI, NRRD and MHA files in every subfolder)."
        )
    result = ScanResult(root, found.layout, found.cases, table, found.notes)
    on_event(Log("info", result.summary()))
    return result


def _find(root: Path, on_event: EventCallback, control: Control) -> Found:
    if root.is_file():
        return _single_file(root)
    if is_synthvol_export(root):  # one of our own exports: each case once, from one of its formats
        part = export_read_folder(root)
        if part is not None:
            found = _find(part, on_event, control)
            found.notes.append(
                f"{root} is a {APP_NAME} export of synthetic cases; read from its {part.relative_to(root)} "
                "folder (the other formats hold the same cases)."
            )
            return found
    try:
        meta = read_dataset_json(root)
    except DataError as exc:  # a broken dataset.json: say so, and find the files without it
        found = find_in_tree(root, on_event, control)
        found.notes.append(f"{exc} The folder was searched without it.")
        return found
    if meta is not None and ((root / "imagesTr").is_dir() or "training" in meta):
        return find_nnunet_or_msd(root, meta)
    return find_in_tree(root, on_event, control)


def _single_file(path: Path) -> Found:
    """One file: its case, found among its siblings (its label, or the series it belongs to)."""
    found = find_in_tree(path.parent, recursive=False)

    def holds(case: CaseRef) -> bool:
        series = found.series.get(case.id)
        in_series = series is not None and any(f.path == path for f in series.files)
        return case.image == path or case.label == path or in_series

    chosen = [c for c in found.cases if holds(c)]
    found.cases = chosen or [CaseRef(path.name, path)]
    return found


def inspect_case(case: CaseRef, found: Found, verify: bool) -> None:
    """Fill in geometry, modality and label values, and check the image/label pair."""
    series = found.series.get(case.id)
    if series is not None:
        stack = check_series(series)
        case.image_files = tuple(stack.files)
        case.source_sop_instances = tuple(stack.sop_instances)
        case.modality = case.modality or stack.modality
        case.window = stack.window
        if stack.geometry is None:  # one multi-frame file
            case.image = stack.files[0]
            case.geometry = read_header(case.image).geometry
        else:
            case.geometry = stack.geometry
        if verify:
            _check_dicom_pixels(stack.files[len(stack.files) // 2])
    else:
        header = read_header(case.image)
        case.geometry = header.geometry
        guessed = None
        if verify:
            arr, owner = read_voxels(case.image)  # owner keeps a SimpleITK view's memory alive
            case.warnings += check_image_values(arr, case.image)
            if case.label is None and arr.dtype.kind in "iu" and len(np.unique(arr[:: max(1, arr.shape[0] // 8)])) <= 8:
                case.warnings.append(f"{case.image.name} holds only a few distinct values: is it a label map?")
            guessed = infer_modality(arr)  # shown as "CT (from intensities)" when nothing else says
            del arr, owner  # one volume in memory at a time per thread
        case.modality = case.modality or modality_from_name(case.image.name)
        if case.modality is None:
            case.inferred_modality = guessed
    if case.label is None:
        return
    if case.label_kind == "seg":
        seg = found.seg_series[case.id]
        case.label_values = tuple(sorted({0, *seg.first.segments}))
        for number, name in seg.first.segments.items():
            found.label_names.setdefault(number, name)
        return
    label_header = read_header(case.label)
    for value, name in slicer_segment_names(label_header.meta).items():
        found.label_names.setdefault(value, name)
    if verify or not same_grid(case.geometry, label_header.geometry):
        label, owner = read_voxels(case.label)
        values, warnings = check_label_values(label, case.label)
        del label, owner
        case.label_values = tuple(values)
        case.warnings += warnings
    if not same_grid(case.geometry, label_header.geometry):
        frac = overlap_fraction(case.geometry, label_header.geometry)
        diff = describe_difference(case.geometry, label_header.geometry)
        if frac <= 0.0:
            raise DataError(
                f"{case.label}: the label map does not overlap its image {case.image.name} in space "
                f"({diff}). Check that they belong to the same scan."
            )
        first, stop = covered_slices(case.geometry, label_header.geometry)
        if stop <= first:
            raise DataError(
                f"{case.label}: the label map covers no slice of its image {case.image.name} whole "
                f"({diff}); nothing of this case can be trained on. Check that they belong to the same scan."
            )
        case.label_resampled = True
        case.warnings.append(
            f"label on a different grid ({diff}); it is resampled onto the image grid with nearest "
            f"neighbour ({100 * min(frac, 1.0):.0f}% of the label lies inside the image)"
        )
        note = coverage_note(case.geometry, label_header.geometry)
        if note:
            case.warnings.append(note)


def _check_dicom_pixels(path: Path) -> None:
    import pydicom

    try:
        ds = pydicom.dcmread(str(path))
        arr = ds.pixel_array
    except Exception as exc:
        raise DataError(
            f"{path}: the pixel data cannot be decoded ({exc}). The file may be truncated, or "
            "compressed with a codec that is not installed."
        ) from None
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and getattr(ds, "SamplesPerPixel", 1) > 1):
        raise DataError(f"{path}: colour or multi-sample pixels; SynthVol needs grey-scale images.")
