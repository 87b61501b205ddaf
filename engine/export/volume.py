"""Load one case and turn it into fresh voxel arrays + geometry, with nothing else kept.

A SimpleITK image read from DICOM carries the source's tags in its MetaData dictionary; only the
voxel array and the geometry (size, spacing, origin, direction) are taken from it, and every image
written later is rebuilt from those.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from engine.data.geometry import Geometry
from engine.data.labels import LabelTable
from engine.errors import ExportError, SynthVolError
from engine.export.config import MODALITIES, ExportCase
from engine.export.pixels import ct_pixels, mr_pixels, window_for

AXES_TOLERANCE = 1e-4  # how far from perpendicular image axes may be (DICOM cannot describe shear)


@dataclass
class PreparedCase:
    """One case ready to write: stored voxels (z, y, x), the label map and the grid."""

    case: ExportCase
    geometry: Geometry
    pixels: np.ndarray
    pixel_info: dict
    label: np.ndarray
    window: tuple[float, float]
    label_values_present: list[int] = field(default_factory=list)
    positions: list[tuple[float, float, float]] = field(default_factory=list)
    notes: dict = field(default_factory=dict)

    @property
    def n_slices(self) -> int:
        return int(self.pixels.shape[0])

    def image(self) -> sitk.Image:
        return self.geometry.image(self.pixels)

    def label_image(self, values: np.ndarray | None = None) -> sitk.Image:
        return self.geometry.image(self.label if values is None else values)

    def checksums(self) -> dict:
        return {"image_sha256": voxel_sha256(self.pixels), "label_sha256": voxel_sha256(self.label)}


def voxel_sha256(array: np.ndarray) -> str:
    """sha256 of the C-ordered little-endian voxel bytes, in (z, y, x) order."""
    a = np.ascontiguousarray(array)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return hashlib.sha256(memoryview(a).cast("B")).hexdigest()


def _loaded(case: ExportCase) -> tuple[sitk.Image, sitk.Image]:
    """Call the case's own loader; its failures become an ExportError naming the case."""
    try:
        loaded = case.load()
    except SynthVolError:
        raise
    except Exception as exc:
        raise ExportError(f"Case {case.case_id}: could not be loaded for export ({exc}).") from exc
    if not isinstance(loaded, tuple) or len(loaded) != 2:
        raise ExportError(f"Case {case.case_id}: load() must return (image, label) SimpleITK images.")
    return loaded


def prepare_case(case: ExportCase, label_table: LabelTable) -> PreparedCase:
    """Load ``case``, check image and label share one 3-D grid, convert the voxels to stored values."""
    if case.modality not in MODALITIES:
        raise ExportError(f"Case {case.case_id}: modality {case.modality!r} is not CT or MR.")
    image, label = _loaded(case)
    for what, img in (("image", image), ("label", label)):
        if (
            not isinstance(img, sitk.Image)
            or img.GetDimension() != 3
            or img.GetNumberOfComponentsPerPixel() != 1
        ):
            raise ExportError(f"Case {case.case_id}: the {what} must be a 3-D single-channel volume.")
    geometry, label_geometry = Geometry.of(image), Geometry.of(label)
    if not geometry.same_grid(label_geometry):
        raise ExportError(
            f"Case {case.case_id}: the label is not on the image grid (image {geometry.to_json()}, "
            f"label {label_geometry.to_json()}). Resample the label onto the image first."
        )
    m = geometry.matrix
    if not np.allclose(m.T @ m, np.eye(3), atol=AXES_TOLERANCE):
        raise ExportError(
            f"Case {case.case_id}: the image axes are not perpendicular (direction {geometry.direction}); "
            "DICOM cannot describe a sheared grid. Resample the volume first."
        )
    values = sitk.GetArrayFromImage(image)
    labels = _label_values(case.case_id, sitk.GetArrayFromImage(label))
    del image, label
    notes: dict = {}
    if np.linalg.det(geometry.matrix) < 0:  # left-handed: store slices along the slice normal
        geometry, values, labels = _flip_slices(geometry, values, labels)
        notes["slice_order_reversed"] = True
    labels, present, zeroed = _drop_unknown_labels(labels, label_table)
    if zeroed:
        notes["label_values_not_in_table_set_to_0"] = zeroed
    pixels, info = (ct_pixels if case.modality == "CT" else mr_pixels)(values)
    del values
    prepared = PreparedCase(case, geometry, pixels, info, labels, window_for(pixels), present, notes=notes)
    ref = geometry.image(np.zeros((1, 1, 1), np.uint8))  # TransformIndexToPhysicalPoint ignores size
    prepared.positions = [
        tuple(ref.TransformIndexToPhysicalPoint((0, 0, k))) for k in range(geometry.size[2])
    ]
    return prepared


def _label_values(case_id: str, arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.rint(arr)):
            raise ExportError(f"Case {case_id}: the label map holds non-integer values.")
    if arr.size and arr.min() < 0:
        raise ExportError(f"Case {case_id}: the label map holds negative values.")
    top = int(arr.max()) if arr.size else 0
    if top > 65535:
        raise ExportError(f"Case {case_id}: label value {top} is above 65535.")
    return np.ascontiguousarray(arr, dtype=np.uint8 if top < 256 else np.uint16)


def _drop_unknown_labels(labels: np.ndarray, table: LabelTable) -> tuple[np.ndarray, list[int], list[int]]:
    """Set values the table does not name to 0; return (labels, values present, values dropped)."""
    present = [int(v) for v in np.flatnonzero(np.bincount(labels.ravel()))]
    unknown = [v for v in present if v not in table.entries]
    if unknown:
        labels = labels.copy()
        labels[np.isin(labels, unknown)] = 0
        present = sorted({0, *present} - set(unknown))
    return labels, present, unknown


def _flip_slices(geometry: Geometry, values: np.ndarray, labels: np.ndarray):
    ref = geometry.image(np.zeros((1, 1, 1), np.uint8))
    origin = ref.TransformIndexToPhysicalPoint((0, 0, geometry.size[2] - 1))
    m = geometry.matrix.copy()
    m[:, 2] *= -1
    flipped = Geometry(geometry.size, geometry.spacing, tuple(origin), tuple(m.ravel()))
    return flipped, np.ascontiguousarray(values[::-1]), np.ascontiguousarray(labels[::-1])
