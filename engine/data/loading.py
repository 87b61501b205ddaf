"""Reading a case's voxels on demand: the image and its label map on the image grid."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from engine.data.cases import CaseRef
from engine.data.content_checks import check_image_values, check_label_values
from engine.data.geometry import Geometry, resample_label_to, same_grid
from engine.data.label_coverage import coverage_mask
from engine.data.volume_io import explain_reader_error, read_volume
from engine.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class LoadedCase:
    case: CaseRef
    image: sitk.Image  # float32 (or the stored pixel type, see load_case), the image grid
    label: sitk.Image | None  # stored label values (uint16), on the image grid
    notes: list[str] = field(default_factory=list)
    coverage: sitk.Image | None = None  # a label from another grid: 1 where it has voxels (else None)


def load_image(case: CaseRef, as_float: bool = True) -> sitk.Image:
    """The image, checked; float32, or with as_float=False in its stored pixel type (half the
    memory for int16 CT while the cache is built)."""
    try:
        if len(case.image_files) > 1:
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames([str(p) for p in case.image_files])
            image = reader.Execute()
        else:  # a volume file or one multi-frame DICOM file
            image = read_volume(case.image_files[0] if case.image_files else case.image)
        if image.GetDimension() == 4 and image.GetSize()[3] == 1:
            image = image[:, :, :, 0]
    except RuntimeError as exc:
        raise DataError(f"{case.image}: the image cannot be read ({explain_reader_error(exc)}).") from None
    if image.GetDimension() != 3:
        raise DataError(f"{case.image}: a {image.GetDimension()}-D image; SynthVol needs one 3-D volume.")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise DataError(f"{case.image}: colour or multi-channel pixels; SynthVol needs grey-scale images.")
    check_image_values(sitk.GetArrayViewFromImage(image), case.image)
    return sitk.Cast(image, sitk.sitkFloat32) if as_float else image


def load_label(case: CaseRef, image: sitk.Image) -> tuple[sitk.Image | None, list[str]]:
    label, notes, _ = _label_and_coverage(case, image)
    return label, notes


def load_case(case: CaseRef, as_float: bool = True) -> LoadedCase:
    if not case.ok:
        raise DataError(case.error or f"{case.id}: not usable")
    image = load_image(case, as_float)
    label, notes, coverage = _label_and_coverage(case, image)
    return LoadedCase(case, image, label, notes, coverage)


def _label_and_coverage(case: CaseRef, image: sitk.Image):
    """The label on the image grid; for a label from another grid also which voxels it covers."""
    if case.label is None:
        return None, [], None
    if case.label_kind == "seg":
        return _decode_seg(case, image), [], None
    label = read_volume(case.label)
    check_label_values(sitk.GetArrayViewFromImage(label), case.label)
    if label.GetPixelID() not in (sitk.sitkUInt8, sitk.sitkUInt16):
        label = sitk.Cast(label, sitk.sitkUInt16)  # values checked: 0..65535
    if same_grid(Geometry.of(image), Geometry.of(label)):
        return label, [], None
    coverage = coverage_mask(label, image)
    notes = [f"{case.label.name}: resampled onto the image grid (nearest neighbour)"]
    return resample_label_to(label, image), notes, coverage


def _decode_seg(case: CaseRef, image: sitk.Image) -> sitk.Image:
    """A DICOM SEG decoded with highdicom to a label volume (segment numbers) on the image grid."""
    import highdicom as hd

    try:
        seg = hd.seg.segread(str(case.label))
    except Exception as exc:
        raise DataError(f"{case.label}: the DICOM SEG cannot be read ({exc}).") from None
    arr = None
    if case.source_sop_instances:
        try:
            arr = seg.get_pixels_by_source_instance(
                source_sop_instance_uids=list(case.source_sop_instances),
                combine_segments=True,
                skip_overlap_checks=True,
                dtype=np.uint16,
            )
        except Exception as exc:  # SEGs that reference by frame of reference only
            log.info("SEG %s: per-instance decoding failed (%s); using its volume geometry", case.label, exc)
    if arr is not None:
        label = sitk.GetImageFromArray(np.ascontiguousarray(arr.astype(np.uint16)))
        label.CopyInformation(image)
        return label
    try:
        vol = seg.get_volume(combine_segments=True, skip_overlap_checks=True, dtype=np.uint16)
    except Exception as exc:
        raise DataError(f"{case.label}: the DICOM SEG cannot be placed on its image ({exc}).") from None
    label = _volume_to_sitk(vol)
    return resample_label_to(label, image)


def _volume_to_sitk(vol) -> sitk.Image:
    """highdicom Volume (slices, rows, cols) with an LPS affine -> SimpleITK image (x=col, y=row, z=slice)."""
    arr = np.asarray(vol.array)
    affine = np.asarray(vol.affine, dtype=float)
    cols = affine[:3, :3]
    spacing = np.linalg.norm(cols, axis=0)  # (slice, row, col)
    dirs = cols / spacing
    out = sitk.GetImageFromArray(np.ascontiguousarray(arr.astype(np.uint16)))
    out.SetSpacing((float(spacing[2]), float(spacing[1]), float(spacing[0])))
    out.SetOrigin(tuple(float(v) for v in affine[:3, 3]))
    direction = np.stack([dirs[:, 2], dirs[:, 1], dirs[:, 0]], axis=1)
    out.SetDirection(tuple(float(v) for v in direction.ravel()))
    return out
