"""Checks on what a reader returned: an image must hold finite, varying values; a label map must
hold a few non-negative whole numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import DataError

MAX_LABEL_VALUES = 200  # more distinct values than this in a "label map" is almost surely an image


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


def check_label_values(arr: np.ndarray, path: Path | str) -> tuple[list[int], list[str]]:
    """Return (sorted distinct label values, warnings); raise DataError when not a label map."""
    warnings: list[str] = []
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise DataError(f"{path}: the label map holds NaN or infinite values; labels must be whole numbers.")
        frac = arr != np.round(arr)
        if frac.any():
            example = float(arr[frac].flat[0])
            raise DataError(
                f"{path}: the label map holds non-integer values (e.g. {example:g} in "
                f"{int(np.count_nonzero(frac))} voxels); labels must be whole numbers. If this is a "
                "probability map, threshold it; if it is an image, it is in the labels folder by mistake."
            )
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iub":
        raise DataError(f"{path}: the label map has pixel type {arr.dtype}; expected whole numbers.")
    values = np.unique(arr)
    if values.size and values[0] < 0:
        raise DataError(
            f"{path}: the label map holds negative values (e.g. {int(values[0])}); labels must be >= 0."
        )
    if values.size > MAX_LABEL_VALUES:
        raise DataError(
            f"{path}: the 'label map' holds {values.size} distinct values; a label map holds a few. "
            "It looks like an image: check which file is the image and which the label."
        )
    if values.size == 1 and values[0] == 0:
        warnings.append(f"{path.name if isinstance(path, Path) else path}: the label map is empty (all background)")
    return [int(v) for v in values], warnings
