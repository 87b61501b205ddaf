"""Reading volume files (NIfTI, NRRD, MHA/MHD) through SimpleITK, checked by a second reader.

SimpleITK 2.5 reads an all-NaN float NIfTI as zeros and a truncated NIfTI without complaint, so
NIfTI files are also read with nibabel, which raises on truncation and keeps NaNs.
"""

from __future__ import annotations

import errno
import logging
import shutil
import zlib
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


def check_readable(path: Path) -> None:
    """Open the file here, before a C++ reader does: ITK says "does not exist" for a file it may
    not read, and nothing at all for other faults."""
    try:
        with open(path, "rb") as fh:
            empty = fh.read(1) == b""
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (it was moved or deleted while the scan ran).") from None
    except PermissionError:
        raise DataError(
            f"{path}: the file exists but may not be read (permission denied). Give your user read "
            "permission on it (e.g. chmod a+r), or copy it to a folder of your own."
        ) from None
    except IsADirectoryError:
        raise DataError(f"{path}: a folder, not an image file.") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    if empty:
        raise DataError(f"{path}: the file is empty (0 bytes). Copy it again from its source.")


def read_header(path: Path) -> VolumeHeader:
    """Geometry and pixel type from the file header only (no voxels). A 2-D image is a volume of
    one slice."""
    path = Path(path)
    check_readable(path)
    nifti = volume_extension(path) in (".nii", ".nii.gz")
    if nifti:
        check_nifti_transform(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        if nifti:
            return _nifti_header_from_nibabel(path, exc)
        raise DataError(
            f"{path}: not a readable image file ({explain_reader_error(exc)}). "
            "Check that the file is complete and in NIfTI, NRRD, MHA or DICOM format."
        ) from None
    dim = reader.GetDimension()
    comps = reader.GetNumberOfComponents()
    size = reader.GetSize()
    meta = {k: reader.GetMetaData(k) for k in reader.GetMetaDataKeys()}
    if nifti:
        dim, comps = _nifti_true_shape(path, dim, comps)
    if dim < 2:
        raise DataError(f"{path}: a 1-D signal, not an image.")
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
    if dim == 2:  # one slice: spacing 1 mm and origin 0 across it, as SimpleITK's JoinSeries makes it
        geom = Geometry(
            (int(size[0]), int(size[1]), 1),
            (*(float(v) for v in reader.GetSpacing()[:2]), 1.0),
            (*(float(v) for v in reader.GetOrigin()[:2]), 0.0),
            _direction3(reader.GetDirection(), 2),
        )
    else:
        geom = Geometry(
            tuple(int(v) for v in size[:3]),
            tuple(float(v) for v in reader.GetSpacing()[:3]),
            tuple(float(v) for v in reader.GetOrigin()[:3]),
            _direction3(reader.GetDirection(), dim),
        )
    check_geometry(geom, path)
    return VolumeHeader(geom, 3, comps, sitk.GetPixelIDValueAsString(reader.GetPixelID()), meta)


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
    shape = tuple(img.shape) + (1,) * max(0, 3 - len(img.shape))
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
    check_geometry(geom, path)
    return VolumeHeader(geom, 3, 1, str(img.get_data_dtype()), {})


def _direction3(direction, dim) -> tuple[float, ...]:
    d = np.array(direction, dtype=float).reshape(dim, dim)
    if dim == 2:
        d = np.block([[d, np.zeros((2, 1))], [np.zeros((1, 2)), np.ones((1, 1))]])
    return tuple(float(v) for v in d[:3, :3].ravel())


def check_nifti_transform(path: Path) -> None:
    """A NIfTI whose sform or qform (the one in use) is NaN or singular places no voxel anywhere:
    said before SimpleITK makes up a geometry (or prints SVD errors)."""
    import nibabel as nib

    try:
        hdr = nib.load(str(path)).header
    except Exception:  # damaged headers are reported by the readers that follow
        return
    problems = []
    if int(hdr["sform_code"]) > 0:
        sform = np.array([hdr["srow_x"], hdr["srow_y"], hdr["srow_z"]], dtype=float)
        problems += _transform_problems("sform", sform[:3, :3], sform[:3, 3])
    if int(hdr["qform_code"]) > 0:
        quat = np.array([hdr["quatern_b"], hdr["quatern_c"], hdr["quatern_d"]], dtype=float)
        offset = np.array([hdr["qoffset_x"], hdr["qoffset_y"], hdr["qoffset_z"]], dtype=float)
        pixdim = np.array(hdr["pixdim"][1:4], dtype=float)
        if not (np.all(np.isfinite(quat)) and np.all(np.isfinite(offset)) and np.all(np.isfinite(pixdim))):
            problems.append("the qform holds NaN or infinite numbers")
    ndim = int(hdr["dim"][0])
    pixdim = np.array(hdr["pixdim"][1 : 1 + min(ndim, 3)], dtype=float)
    if not np.all(np.isfinite(pixdim)):
        problems.append(f"the voxel size (pixdim) is {pixdim.tolist()}")
    if problems:
        raise DataError(
            f"{path}: the header does not place the voxels in space ({'; '.join(problems)}). Re-export the "
            "image with a valid orientation (e.g. from 3D Slicer or with nibabel's set_sform)."
        )


def _transform_problems(name: str, matrix: np.ndarray, offset: np.ndarray) -> list[str]:
    if not (np.all(np.isfinite(matrix)) and np.all(np.isfinite(offset))):
        return [f"the {name} holds NaN or infinite numbers"]
    if abs(float(np.linalg.det(matrix))) < 1e-12:
        return [f"the {name} is singular (an axis of length 0: no voxel size along it)"]
    return []


def check_geometry(geom: Geometry, path: Path | str) -> None:
    """Finite, positive voxel sizes and a direction matrix that spans space."""
    values = (*geom.spacing, *geom.origin, *geom.direction)
    if not all(np.isfinite(values)):
        raise DataError(
            f"{path}: the header places the voxels nowhere (NaN or infinite spacing, origin or direction). "
            "Re-export the image with a valid orientation."
        )
    if min(geom.spacing) <= 0:
        raise DataError(
            f"{path}: voxel size {tuple(round(v, 6) for v in geom.spacing)} mm; every voxel size must be "
            "more than 0. Fix the header (pixdim / spacing)."
        )
    if abs(float(np.linalg.det(np.array(geom.direction).reshape(3, 3)))) < 1e-6:
        raise DataError(
            f"{path}: the direction matrix of the header is singular (two axes point the same way). "
            "Re-export the image with a valid orientation."
        )


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
    while data.ndim < 3:  # a 2-D image: one slice
        data = data[..., None]
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
    return as_volume(image)


def as_volume(image: sitk.Image) -> sitk.Image:
    """A 3-D image: a 2-D one becomes one slice, a 4-D one with one time point its first volume."""
    if image.GetDimension() == 2:
        return sitk.JoinSeries(image)
    if image.GetDimension() == 4:
        return image[:, :, :, 0]
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


def write_image_checked(image: sitk.Image, path: Path, compress: bool = False) -> Path:
    """sitk.WriteImage, then a check that the file holds the whole image: ITK's NIfTI writer
    reports a full disk on stderr only and leaves a short file behind. OSError when it does."""
    path = Path(path)
    try:
        sitk.WriteImage(image, str(path), useCompression=compress)
    except RuntimeError as exc:
        raise OSError(errno.EIO, f"the image could not be written ({explain_reader_error(exc)})", str(path)) from None
    check_written(path, image)
    return path


def _short_write(path: Path, have: int, want: int) -> OSError:
    free = shutil.disk_usage(path.parent).free if path.parent.exists() else 0
    code = errno.ENOSPC if free < max(want - have, 1) * 2 else errno.EIO
    return OSError(code, f"the file was written incompletely ({have} of {want} bytes; is the disk full?)", str(path))


def check_written(path: Path, image: sitk.Image) -> None:
    """OSError unless ``path`` holds all of ``image``'s voxels (NIfTI: exact sizes; others: read back)."""
    path = Path(path)
    ext = volume_extension(path)
    voxels = int(np.prod(image.GetSize())) * image.GetNumberOfComponentsPerPixel()
    nbytes = voxels * image.GetSizeOfPixelComponent()
    if ext == ".nii":
        have = path.stat().st_size
        if have < 352 + nbytes:
            raise _short_write(path, have, 352 + nbytes)
        return
    if ext == ".nii.gz":
        inflate, total = zlib.decompressobj(16 + zlib.MAX_WBITS), 0
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    total += len(inflate.decompress(chunk))
        except zlib.error:
            raise _short_write(path, total, 352 + nbytes) from None
        if not inflate.eof or total < 352 + nbytes:
            raise _short_write(path, total, 352 + nbytes)
        return
    try:
        back = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise OSError(errno.EIO, f"the file written cannot be read back ({explain_reader_error(exc)})", str(path)) from None
    if back.GetSize() != image.GetSize():
        raise OSError(errno.EIO, "the file written does not hold the whole image", str(path))
