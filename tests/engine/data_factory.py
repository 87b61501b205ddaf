"""Helpers that write small test volumes, DICOM series and DICOM SEGs into a folder.

Arrays are numpy (z, y, x); geometry is given the SimpleITK way: spacing/origin in (x, y, z), the
direction as 9 row-major values whose columns are the axis directions in LPS.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


# --------------------------------------------------------------------------- arrays


def phantom(shape=(8, 24, 20), modality: str = "CT", seed: int = 0) -> np.ndarray:
    """A body-like image: air around an ellipse of soft tissue with a brighter core, plus noise."""
    z, y, x = np.mgrid[0 : shape[0], 0 : shape[1], 0 : shape[2]].astype(np.float32)
    cy, cx = (shape[1] - 1) / 2, (shape[2] - 1) / 2
    r = ((y - cy) / (0.42 * shape[1])) ** 2 + ((x - cx) / (0.42 * shape[2])) ** 2
    rng = np.random.default_rng(seed)
    if modality == "CT":
        img = np.where(r < 1.0, 40.0, -1000.0) + np.where(r < 0.25, 300.0, 0.0)
        img += rng.normal(0, 10, shape)
        return img.astype(np.int16)
    img = np.where(r < 1.0, 400.0, 5.0) + np.where(r < 0.25, 500.0, 0.0) + 20 * z
    img += rng.normal(0, 8, shape)
    return np.clip(img, 0, None).astype(np.int16)


def phantom_label(shape=(8, 24, 20), values=(1, 2)) -> np.ndarray:
    """Labels matching phantom(): values[0] for the ellipse, values[1] for the core."""
    z, y, x = np.mgrid[0 : shape[0], 0 : shape[1], 0 : shape[2]].astype(np.float32)
    cy, cx = (shape[1] - 1) / 2, (shape[2] - 1) / 2
    r = ((y - cy) / (0.42 * shape[1])) ** 2 + ((x - cx) / (0.42 * shape[2])) ** 2
    lab = np.zeros(shape, np.uint8)
    lab[r < 1.0] = values[0]
    if len(values) > 1:
        lab[r < 0.25] = values[1]
    return lab


# --------------------------------------------------------------------------- volume files


def to_sitk(
    arr: np.ndarray, spacing=(1.0, 1.0, 2.0), origin=(0.0, 0.0, 0.0), direction=IDENTITY, vector=False
):
    img = sitk.GetImageFromArray(np.ascontiguousarray(arr), isVector=vector)
    img.SetSpacing(tuple(float(v) for v in spacing))
    img.SetOrigin(tuple(float(v) for v in origin))
    if img.GetDimension() == 3:
        img.SetDirection(tuple(float(v) for v in direction))
    return img


def write_volume(
    path: Path,
    arr: np.ndarray,
    spacing=(1.0, 1.0, 2.0),
    origin=(0.0, 0.0, 0.0),
    direction=IDENTITY,
    vector: bool = False,
    compress: bool | None = None,
) -> Path:
    """Write arr (z, y, x) with SimpleITK; the format follows the file name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = to_sitk(arr, spacing, origin, direction, vector)
    use_compression = compress if compress is not None else str(path).endswith(".gz")
    sitk.WriteImage(img, str(path), useCompression=use_compression)
    return path


def write_nifti_raw(
    path: Path, data: np.ndarray, affine: np.ndarray | None = None, header_extra=None
) -> Path:
    """Write a NIfTI with nibabel (for data SimpleITK would not write: 4-D, NaN, big-endian...).
    ``data`` is in nibabel order (i, j, k[, t])."""
    import nibabel as nib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(data, np.eye(4) if affine is None else affine)
    if header_extra:
        header_extra(img.header)
    nib.save(img, str(path))
    return path


def truncate(path: Path, keep_fraction: float = 0.6) -> Path:
    """Cut a file to a fraction of its bytes (a broken download)."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: max(1, int(len(data) * keep_fraction))])
    return Path(path)


def truncate_gzip_payload(path: Path, keep_fraction: float = 0.6) -> Path:
    """A .gz file whose *uncompressed* content is cut short but which is still a valid gzip stream
    (what some tools leave behind): the header parses, the voxels run out."""
    raw = gzip.decompress(Path(path).read_bytes())
    Path(path).write_bytes(gzip.compress(raw[: int(len(raw) * keep_fraction)]))
    return Path(path)


# --------------------------------------------------------------------------- DICOM


def write_dicom_series(
    folder: Path,
    arr: np.ndarray,
    spacing=(0.8, 0.8, 2.5),
    origin=(-10.0, -12.0, 30.0),
    orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    modality: str = "CT",
    series_uid: str | None = None,
    study_uid: str | None = None,
    frame_of_reference: str | None = None,
    series_number: int = 1,
    name: str = "IM{index:04d}.dcm",
    tweak: Callable[[Dataset, int], None] | None = None,
    positions: Sequence[Sequence[float]] | None = None,
) -> list[Dataset]:
    """Write arr (z, y, x) as a classic single-frame series, one file per slice.

    ``tweak(ds, k)`` may change each slice before it is saved; ``positions`` overrides the
    ImagePositionPatient of each slice. Returns the datasets written (with ``filename`` set).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    frame_of_reference = frame_of_reference or generate_uid()
    row, col = np.array(orientation[:3], float), np.array(orientation[3:], float)
    normal = np.cross(row, col)
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    out = []
    for k in range(arr.shape[0]):
        sop_uid = generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = (
            "Test^Phantom",
            "P001",
            "19700101",
            "O",
        )
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.StudyID, ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "1", "20240101", "120000", "A1"
        ds.ReferringPhysicianName = ""
        ds.SeriesNumber, ds.InstanceNumber = series_number, k + 1
        ds.SeriesDescription = f"{modality} test series {series_number}"
        ds.Modality, ds.Manufacturer = modality, "SynthVol tests"
        ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame_of_reference, ""
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        pos = (
            (np.array(origin, float) + k * spacing[2] * normal)
            if positions is None
            else np.array(positions[k])
        )
        ds.ImagePositionPatient = [f"{v:.6g}" for v in pos]
        ds.ImageOrientationPatient = [f"{v:.6g}" for v in orientation]
        ds.PixelSpacing = [f"{spacing[1]:.6g}", f"{spacing[0]:.6g}"]  # row spacing (y), column spacing (x)
        ds.SliceThickness = f"{spacing[2]:.6g}"
        ds.Rows, ds.Columns = int(arr.shape[1]), int(arr.shape[2])
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        if modality == "CT":
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "HU"
            ds.WindowCenter, ds.WindowWidth = "40", "400"
        ds.PixelData = np.ascontiguousarray(arr[k].astype("<i2")).tobytes()
        if tweak is not None:
            tweak(ds, k)
        path = folder / name.format(index=k + 1, k=k, uid=sop_uid)
        ds.save_as(str(path), enforce_file_format=True)
        ds.filename = str(path)
        out.append(ds)
    return out


def write_dicom_seg(path: Path, sources: list[Dataset], label: np.ndarray, names: dict[int, str]) -> Path:
    """A BINARY DICOM SEG of ``label`` (z, y, x, values = segment numbers) over the source slices,
    written with highdicom."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=name,
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for number, name in sorted(names.items())
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=np.ascontiguousarray(label.astype(np.uint8)),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=100,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="SynthVol tests",
        manufacturer_model_name="factory",
        software_versions="1",
        device_serial_number="1",
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(str(path))
    return path


def copy_into(src: Path, dst_folder: Path, name: str | None = None) -> Path:
    dst_folder = Path(dst_folder)
    dst_folder.mkdir(parents=True, exist_ok=True)
    dst = dst_folder / (name or Path(src).name)
    shutil.copyfile(src, dst)
    return dst


def sitk_geometry(path_or_files) -> tuple:
    """(size, spacing, origin, direction) as SimpleITK reports them for a file or a list of slices."""
    if isinstance(path_or_files, (list, tuple)):
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames([str(p) for p in path_or_files])
        img = reader.Execute()
        return img.GetSize(), img.GetSpacing(), img.GetOrigin(), img.GetDirection()
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path_or_files))
    reader.ReadImageInformation()
    return reader.GetSize(), reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection()


def sitk_series_files(folder: Path) -> list[str]:
    """The slices of the (single) series in folder, sorted by SimpleITK/GDCM."""
    return list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))


def gdcm_series_files(root: Path, series_uid: str) -> list[str]:
    """GDCM's own choice and order of the files of one series anywhere under root."""
    return list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(root), series_uid, False, True))


def assert_geometry_matches_sitk(case, root: Path) -> None:
    """The case's size, spacing, origin and direction equal what SimpleITK reads for its image."""
    import pydicom

    if len(case.image_files) > 1:
        uid = pydicom.dcmread(case.image_files[0], stop_before_pixels=True).SeriesInstanceUID
        size, spacing, origin, direction = sitk_geometry(gdcm_series_files(root, uid))
    else:
        size, spacing, origin, direction = sitk_geometry(case.image)
    g = case.geometry
    assert g is not None, f"{case.id}: no geometry"
    assert tuple(g.size) == tuple(size)[:3], (case.id, g.size, size)
    np.testing.assert_allclose(g.spacing, spacing[:3], rtol=1e-5, err_msg=f"{case.id} spacing")
    np.testing.assert_allclose(g.origin, origin[:3], atol=1e-4, err_msg=f"{case.id} origin")
    dim = int(round(len(direction) ** 0.5))
    d3 = np.array(direction).reshape(dim, dim)[:3, :3].ravel()
    np.testing.assert_allclose(g.direction, d3, atol=1e-5, err_msg=f"{case.id} direction")


def by_id(result) -> dict:
    return {c.id: c for c in result.cases}
