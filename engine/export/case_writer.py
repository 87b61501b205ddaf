"""Write one case in every requested format and describe it for the manifest.

NIfTI compression, the voxel checksums and the 3D Slicer files run in worker threads while the DICOM
slices and the SEG are written here; the case is finished (all its files on disk) before the next one
is loaded.
"""

from __future__ import annotations

import shutil
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.data.labels import LabelTable
from engine.export import dicom_seg, dicom_series, nifti, nnunet, slicer
from engine.export.config import ExportCase
from engine.export.dicom_header import CaseIdentity, Provenance
from engine.export.progress import ExportProgress
from engine.export.uids import CaseUIDs, synthetic_patient_id, synthetic_patient_name
from engine.export.volume import PreparedCase, prepare_case
from engine.synthesis.augmentation import AUGMENTED_REAL


@dataclass
class ExportPlan:
    """What every case shares: the temporary root, formats, label table, provenance and workers."""

    root: Path
    formats: tuple[str, ...]
    seg_type: str
    table: LabelTable
    prov: Provenance
    batch: str
    nnunet_dir: Path | None
    pool: Executor

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def write_case(
    plan: ExportPlan, case: ExportCase, number: int, nnunet_id: str | None, progress: ExportProgress
) -> dict[str, Any]:
    """Export one case (synthetic: all formats; real: nnU-Net only). Returns its manifest entry."""
    progress.check()
    prepared = prepare_case(case, plan.table)
    dicom = case.synthetic and "dicom" in plan.formats
    with_seg = dicom and bool(dicom_seg.segment_numbers(plan.table))
    nifti_out = case.synthetic and "nifti" in plan.formats
    slicer_out = case.synthetic and "slicer" in plan.formats
    n_files = (
        (prepared.n_slices + int(with_seg) if dicom else 0)
        + 2 * int(nifti_out)
        + 2 * int(bool(nnunet_id))
        + 2 * int(slicer_out)
    )
    progress.case_planned(n_files)
    dropped = prepared.notes.get("label_values_not_in_table_set_to_0")
    if dropped:
        progress.warning(
            f"Case {case.case_id}: label values {dropped} are not in the label table; exported as 0."
        )

    files: list[Path] = []
    checksums = plan.pool.submit(prepared.checksums)  # hashlib releases the GIL: beside the DICOM work
    jobs = _submit_nifti(plan, prepared, nifti_out, nnunet_id)
    if slicer_out:
        jobs.append(_submit_slicer(plan, prepared))
    entry = _entry(prepared, nnunet_id)
    try:
        if dicom:
            entry.update(_write_dicom(plan, prepared, number, with_seg, progress, files))
    finally:
        wait([checksums, *(future for future, _ in jobs)])  # no worker may still be writing after this
    entry.update(checksums.result())
    for future, paths in jobs:
        future.result()  # a worker's error, if any
        for path in paths:
            files.append(path)
            progress.file_written(f"{case.case_id}: {path.name}")
    entry["files"] = sorted(plan.rel(p) for p in files)
    return entry


def _entry(prepared: PreparedCase, nnunet_id: str | None) -> dict[str, Any]:
    case = prepared.case
    entry: dict[str, Any] = {
        "case_id": case.case_id,
        "synthetic": case.synthetic,
        "modality": case.modality,
        "meta": dict(case.meta),
        "geometry": prepared.geometry.to_json(),
        "pixels": {**prepared.pixel_info, "window_center_width": list(prepared.window)},
        "label_dtype": prepared.label.dtype.name,
        "label_values_present": prepared.label_values_present,
    }
    if prepared.notes:
        entry["notes"] = dict(prepared.notes)
    if nnunet_id:
        entry["nnunet_id"] = nnunet_id
    return entry


def case_provenance(prov: Provenance, case: ExportCase) -> Provenance:
    """The export's provenance as it applies to one case: an augmented copy of a real scan says so
    (and names no generator checkpoint)."""
    if case.meta.get("image_from") == AUGMENTED_REAL:
        return replace(prov, augmented_real=True, checkpoint_id="", label_source="")
    return prov


def _write_dicom(
    plan: ExportPlan,
    prepared: PreparedCase,
    number: int,
    with_seg: bool,
    progress: ExportProgress,
    files: list,
) -> dict[str, Any]:
    case = prepared.case
    uids = CaseUIDs.mint(prepared.n_slices)
    who = CaseIdentity(
        case_id=case.case_id,
        patient_id=synthetic_patient_id(plan.batch, number),
        patient_name=synthetic_patient_name(case.case_id),
        study_uid=uids.study,
        frame_of_reference_uid=uids.frame_of_reference,
        study_id=f"SV{number:04d}",
    )
    case_dir = plan.root / "dicom" / case.case_id

    def on_file(path: Path) -> None:
        files.append(path)
        progress.file_written(f"{case.case_id}: {path.parent.name}/{path.name}")

    series_dir = case_dir / dicom_series.series_folder_name(case.modality)
    prov = case_provenance(plan.prov, case)
    headers = dicom_series.write_series(series_dir, prepared, who, uids, prov, on_file)
    if with_seg:
        progress.check()
        seg_dir = case_dir / dicom_seg.SEG_FOLDER
        request = dicom_seg.SegRequest(prepared, headers, who, uids, prov, plan.table, plan.seg_type)
        path = dicom_seg.write_case_seg(seg_dir, request)
        if path is not None:
            on_file(path)
    return {
        "patient_id": who.patient_id,
        "patient_name": who.patient_name,
        "study_id": who.study_id,
        "uids": uids.to_json(with_seg=with_seg),
    }


def _submit_nifti(
    plan: ExportPlan, prepared: PreparedCase, nifti_out: bool, nnunet_id: str | None
) -> list[tuple[Future, list[Path]]]:
    """Write the plain .nii files now, compress (and copy) them in the worker threads."""
    case_id = prepared.case.case_id
    image_targets: list[Path] = []
    label_targets: list[Path] = []  # original label values
    class_targets: list[Path] = []  # nnU-Net consecutive classes
    if nifti_out:
        image_targets.append(plan.root / "nifti" / f"{case_id}_image.nii.gz")
        label_targets.append(plan.root / "nifti" / f"{case_id}_label.nii.gz")
    if nnunet_id and plan.nnunet_dir is not None:
        image_targets.append(plan.nnunet_dir / "imagesTr" / nnunet.image_name(nnunet_id))
        target = plan.nnunet_dir / "labelsTr" / nnunet.label_name(nnunet_id)
        (class_targets if nnunet.needs_remap(plan.table) else label_targets).append(target)
    jobs = []
    if image_targets:
        jobs.append(
            _job(plan.pool, nifti.write_uncompressed(prepared.image(), image_targets[0]), image_targets)
        )
    if label_targets:
        jobs.append(
            _job(plan.pool, nifti.write_uncompressed(prepared.label_image(), label_targets[0]), label_targets)
        )
    if class_targets:
        classes = nnunet.to_classes(prepared.label, plan.table)
        plain = nifti.write_uncompressed(prepared.label_image(classes), class_targets[0])
        jobs.append(_job(plan.pool, plain, class_targets))
    return jobs


def _submit_slicer(plan: ExportPlan, prepared: PreparedCase) -> tuple[Future, list[Path]]:
    """The 3D Slicer image and segmentation files, written in a worker (SimpleITK releases the GIL)."""
    folder = plan.root / slicer.FOLDER
    image_path = folder / slicer.image_name(prepared.case.case_id)
    seg_path = folder / slicer.segmentation_name(prepared.case.case_id)

    def write() -> None:
        slicer.write_image(prepared.image(), image_path)
        slicer.write_segmentation(prepared.label_image(), prepared.label, plan.table, seg_path)

    return plan.pool.submit(write), [image_path, seg_path]


def _job(pool: Executor, plain: Path, targets: list[Path]) -> tuple[Future, list[Path]]:
    return pool.submit(_compress_and_copy, plain, targets), targets


def _compress_and_copy(plain: Path, targets: list[Path]) -> None:
    nifti.gzip_file(plain, targets[0])
    for other in targets[1:]:
        other.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(targets[0], other)
