"""Checks on what a reader returned: an image must hold finite, varying values; a label map must
hold a few non-negative whole numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import DataError

MAX_LABEL_VALUES = 200  # more distinct values than this in a "label map" is almost surely an image
MAX_LABEL_VALUE = 65535  # label maps are stored as uint16 (NIfTI exports, DICOM SEG segment numbers)


def check_image_values(arr: np.ndarray, path: Path | str) -> list[str]:
    """Raise DataError for unusable images; return warnings for repairable ones."""
    warnings: list[str] = []
    if arr.size == 0:
        raise DataError(f"{path}: the image holds no voxels.")
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        n_bad = int(arr.size - np.count_nonzero(finite))
        if n_bad == arr.size:
            raise DataError(
                f"{path}: every voxel is NaN or infinite (no image data). "
                "Re-export the image from its source."
            )
        if n_bad:
            raise DataError(
                f"{path}: {n_bad} voxels ({100.0 * n_bad / arr.size:.2g}%) are NaN or infinite. "
                "Replace them (e.g. with the background value) and save the image again."
            )
    lo, hi = float(np.min(arr)), float(np.max(arr))
    if lo == hi:
        raise DataError(
            f"{path}: every voxel has the same value ({lo:g}); there is no image to learn from. "
            "Check that the right file was exported."
        )
    return warnings


def _slabs(arr: np.ndarray, voxels: int = 1 << 22):
    """The array in blocks of whole slices (first axis) of about ``voxels`` voxels: checks on a
    large volume never allocate more than one block's worth of temporaries."""
    step = max(1, voxels // max(1, int(np.prod(arr.shape[1:]))))
    for start in range(0, arr.shape[0], step):
        yield arr[start : start + step]


def check_label_values(arr: np.ndarray, path: Path | str) -> tuple[list[int], list[str]]:
    """Return (sorted distinct label values, warnings); raise DataError when not a label map."""
    warnings: list[str] = []
    if arr.dtype.kind not in "iubf":
        raise DataError(f"{path}: the label map has pixel type {arr.dtype}; expected whole numbers.")
    found: set[int] = set()
    for slab in _slabs(arr):
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(slab)):
                raise DataError(
                    f"{path}: the label map holds NaN or infinite values; labels must be whole numbers."
                )
            frac = slab != np.round(slab)
            if frac.any():
                example = float(slab[frac].flat[0])
                raise DataError(
                    f"{path}: the label map holds non-integer values (e.g. {example:g}); labels must be "
                    "whole numbers. If this is a probability map, threshold it; if it is an image, it "
                    "is in the labels folder by mistake."
                )
        found.update(int(v) for v in np.unique(slab))
        if len(found) > MAX_LABEL_VALUES:
            break
    values = sorted(found)
    if values and values[0] < 0:
        raise DataError(
            f"{path}: the label map holds negative values (e.g. {values[0]}); labels must be >= 0."
        )
    if values and values[-1] > MAX_LABEL_VALUE:
        raise DataError(
            f"{path}: the label map holds the value {values[-1]}, above {MAX_LABEL_VALUE}, the largest label "
            "value SynthVol can store (16 bits, as DICOM SEG). Renumber the labels (e.g. 1, 2, 3) and save "
            "the map again."
        )
    if len(values) > MAX_LABEL_VALUES:
        raise DataError(
            f"{path}: the 'label map' holds more than {MAX_LABEL_VALUES} distinct values; a label map "
            "holds a few. It looks like an image: check which file is the image and which the label."
        )
    if values == [0]:
        warnings.append(f"{path.name if isinstance(path, Path) else path}: the label map is empty (all background)")
    return values, warnings
