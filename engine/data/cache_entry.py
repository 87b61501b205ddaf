"""Is a cache entry whole? meta.json, image.npy and label.npy present, complete and of one shape.

A killed process, a full disk or a copy cut short can leave an entry part-written; read as memory
maps, a short .npy fails only when training reaches the missing slices (or reads garbage). Each
entry is checked when it is opened, from the .npy headers and the file sizes, without reading the
voxels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _npy_shape(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the .npy header; ValueError when the data behind it is cut short."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read = (
            np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read(fh)
        offset = fh.tell()
    if fortran:
        raise ValueError(f"{path.name} is in Fortran order")
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = path.stat().st_size
    if size < expected:
        raise ValueError(f"{path.name} is truncated ({size} of {expected} bytes)")
    return tuple(int(v) for v in shape), dtype


def check_entry(folder: Path, meta: dict) -> None:
    """Raise ValueError (or OSError) when the entry in ``folder`` is not complete."""
    shape = tuple(int(v) for v in meta["shape"])
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"meta.json gives the shape {shape}")
    image_shape, image_dtype = _npy_shape(folder / "image.npy")
    label_shape, label_dtype = _npy_shape(folder / "label.npy")
    if image_shape != shape or label_shape != shape:
        raise ValueError(
            f"image {image_shape} and label {label_shape} do not have the shape {shape} of meta.json"
        )
    if image_dtype.kind != "f" or label_dtype.kind != "u":
        raise ValueError(f"unexpected array types {image_dtype} / {label_dtype}")
    presence = np.asarray(meta["presence"])
    if presence.ndim != 2 or presence.shape[0] != shape[0]:
        raise ValueError(
            f"the class presence table has the shape {presence.shape}, not ({shape[0]}, classes)"
        )
    if "labelled" in meta and len(meta["labelled"]) != shape[0]:
        raise ValueError("the labelled-slices list does not match the number of slices")
