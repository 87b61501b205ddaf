"""Reading volume files (NIfTI, NRRD, MHA/MHD) through SimpleITK, checked by a second reader.

SimpleITK 2.5 reads an all-NaN float NIfTI as zeros and a truncated NIfTI without complaint, so
NIfTI files are also read with nibabel, which raises on truncation and keeps NaNs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from engine.data.formats import volume_extension
from engine.data.geometry import Geometry
from engine.errors import DataError

log = logging.getLogger(__name__)
sitk.ProcessObject_SetGlobalWarningDisplay(False)


@dataclass(frozen=True)
class VolumeHeader:
    geometry: Geometry
    dimension: int
    components: int
    pixel_type: str
    meta: dict[str, str]


def explain_reader_error(exc: Exception) -> str:
    """Turn an ITK exception into the part a user can act on."""
    text = str(exc)
    if "Unable to determine ImageIO reader" in text:
        return "no image reader recognises this file: it is not an image, or it is damaged"
    if any(k in text for k in ("expected", "fread got only", "not read completely", "cannot be read")):
        return "the voxel data is incomplete: the file is truncated"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:200]


def read_header(path: Path) -> VolumeHeader:
    """Geometry and pixel type from the file header only (no voxels)."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise DataError(f"{path}: the file is empty (0 bytes). Copy it again from its source.")
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        if volume_extension(path) in (".nii", ".nii.gz"):
            return _nifti_header_from_nibabel(path, exc)
        raise DataError(
            f"{path}: not a readable image file ({explain_reader_error(exc)}). "
            "Check that the file is complete and in NIfTI, NRRD, MHA or DICOM format."
        ) from None
    dim = reader.GetDimension()
    comps = reader.GetNumberOfComponents()
    size = reader.GetSize()
    meta = {k: reader.GetMetaData(k) for k in reader.GetMetaDataKeys()}
    if volume_extension(path) in (".nii", ".nii.gz"):
        dim, comps = _nifti_true_shape(path, dim, comps)
    if dim == 2 or (dim == 3 and size[2] == 1):
        raise DataError(
            f"{path}: a 2-D image ({size[0]}x{size[1]}); SynthVol needs 3-D volumes. "
            "Stack the slices into one volume or use the DICOM series folder."
        )
    if dim > 3 and size[3] == 1:
        dim = 3
    if dim > 3:
        raise DataError(
            f"{path}: a 4-D image ({' x '.join(map(str, size))}); SynthVol needs one 3-D volume per "
            "file. Split the time points or channels into separate files (e.g. fslsplit)."
        )
    if comps > 1:
        kind = "an RGB colour" if comps in (3, 4) and reader.GetPixelID() in _RGB_IDS else "a multi-channel"
        raise DataError(
            f"{path}: {kind} image with {comps} components per voxel; SynthVol needs one grey value "
            "per voxel. Save a single channel (e.g. the first modality) per file."
        )
    geom = Geometry(
        tuple(int(v) for v in size[:3]),
        tuple(float(v) for v in reader.GetSpacing()[:3]),
        tuple(float(v) for v in reader.GetOrigin()[:3]),
        _direction3(reader.GetDirection(), dim),
    )
    return VolumeHeader(geom, dim, comps, sitk.GetPixelIDValueAsString(reader.GetPixelID()), meta)


_RGB_IDS = {sitk.sitkVectorUInt8, sitk.sitkVectorUInt16}


def _nifti_header_from_nibabel(path: Path, sitk_exc: Exception) -> VolumeHeader:
    """NIfTI-2 and other files SimpleITK cannot open but nibabel can: geometry from the affine."""
    import nibabel as nib

    try:
        img = nib.load(str(path))
    except Exception:
        raise DataError(
            f"{path}: not a readable image file ({explain_reader_error(sitk_exc)}). "
            "Check that the file is complete and in NIfTI, NRRD, MHA or DICOM format."
        ) from None
    shape = img.shape
    if len(shape) < 3 or shape[2] == 1:
        raise DataError(f"{path}: a 2-D image {shape}; SynthVol needs 3-D volumes.")
    if len(shape) > 3 and any(s > 1 for s in shape[3:]):
        raise DataError(
            f"{path}: a 4-D image {shape}; SynthVol needs one 3-D volume per file. "
            "Split the time points or channels into separate files."
        )
    affine = np.asarray(img.affine, dtype=float)
    lps = np.diag([-1.0, -1.0, 1.0]) @ affine[:3, :3]
    spacing = np.linalg.norm(lps, axis=0)
    direction = lps / spacing
    origin = np.diag([-1.0, -1.0, 1.0]) @ affine[:3, 3]
    geom = Geometry(
        tuple(int(v) for v in shape[:3]),
        tuple(float(v) for v in spacing),
        tuple(float(v) for v in origin),
        tuple(float(v) for v in direction.ravel()),
    )
    return VolumeHeader(geom, 3, 1, str(img.get_data_dtype()), {})


def _direction3(direction, dim) -> tuple[float, ...]:
    d = np.array(direction, dtype=float).reshape(dim, dim)[:3, :3]
    return tuple(float(v) for v in d.ravel())


def _nifti_true_shape(path: Path, dim: int, comps: int) -> tuple[int, int]:
    """SimpleITK folds NIfTI vector/4-D data into components; nibabel tells the truth."""
    import nibabel as nib

    try:
        hdr = nib.load(str(path)).header
    except Exception as exc:  # nibabel raises many types for broken headers
        raise DataError(f"{path}: the NIfTI header cannot be read ({exc}). The file may be damaged.") from None
    ndim = int(hdr["dim"][0])
    shape = [int(v) for v in hdr["dim"][1 : 1 + ndim]]
    dtype = hdr.get_data_dtype()
    if dtype.names:  # RGB / RGBA structured types
        return 3, len(dtype.names)
    if ndim >= 4 and any(s > 1 for s in shape[3:]):
        if int(hdr["intent_code"]) == 1007:  # vector intent: components
            return 3, int(np.prod(shape[3:]))
        return 4, comps
    return min(dim, 3), comps


def read_nifti_checked(path: Path) -> np.ndarray:
    """Read a NIfTI file's voxels with nibabel (raises DataError on a truncated or damaged file)."""
    import nibabel as nib

    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except EOFError:
        raise DataError(
            f"{path}: the compressed file ends early (truncated download or copy). "
            "Copy the file again from its source."
        ) from None
    except (OSError, ValueError, Exception) as exc:  # nibabel wraps zlib and shape errors variously
        msg = str(exc).splitlines()[0]
        if "Expected" in msg and "bytes" in msg:
            msg = f"the file is truncated ({msg})"
        raise DataError(f"{path}: the voxel data cannot be read: {msg}. Copy the file again.") from None
    return data


def _nifti_voxels(path: Path) -> np.ndarray:
    """NIfTI voxels from nibabel as (z, y, x), native byte order, float64 narrowed to float32."""
    data = np.asarray(read_nifti_checked(path))
    while data.ndim > 3:
        data = data[..., 0]
    if data.dtype.kind == "c":
        raise DataError(f"{path}: complex-valued voxels; SynthVol needs real grey values (save the magnitude).")
    if data.dtype == np.float64:
        data = data.astype(np.float32)
    elif data.dtype.kind == "b":
        data = data.astype(np.uint8)
    elif not data.dtype.isnative:  # big-endian files ('<i2' is native here: no copy, a memory map stays one)
        data = data.astype(data.dtype.newbyteorder("="))
    return np.transpose(data, (2, 1, 0))


def _read_sitk(path: Path) -> sitk.Image:
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise DataError(
            f"{path}: the voxel data cannot be read ({explain_reader_error(exc)}). "
            "Copy the file again from its source."
        ) from None
    if image.GetDimension() == 4:
        image = image[:, :, :, 0]
    return image


def read_voxels(path: Path) -> tuple[np.ndarray, sitk.Image | None]:
    """(voxels (z, y, x), the SimpleITK image that owns them or None), for checking contents.

    NIfTI voxels come straight from nibabel, without a SimpleITK copy (half the memory while a
    scan checks them). For other formats the array is a view into the returned image, which the
    caller must keep while it uses the array (a view outliving its image reads freed memory).
    """
    path = Path(path)
    read_header(path)  # raises on 2-D, 4-D, RGB, unreadable
    if volume_extension(path) in (".nii", ".nii.gz"):
        return _nifti_voxels(path), None
    image = _read_sitk(path)
    return sitk.GetArrayViewFromImage(image), image


def read_volume(path: Path) -> sitk.Image:
    """A 3-D scalar image from a volume file, with the file's integrity checked.

    NIfTI voxels come from nibabel (which notices truncation and keeps NaN), on the geometry
    SimpleITK reads from the header; other formats are read by SimpleITK, which raises on
    truncated NRRD and MHA data.
    """
    path = Path(path)
    header = read_header(path)  # raises on 2-D, 4-D, RGB, unreadable
    if volume_extension(path) in (".nii", ".nii.gz"):
        image = sitk.GetImageFromArray(np.ascontiguousarray(_nifti_voxels(path)))
        return header.geometry.apply_to(image)
    return _read_sitk(path)
