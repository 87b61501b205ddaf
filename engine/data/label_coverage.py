"""Which slices of an image a label map on another grid covers.

A label resampled onto its image is 0 wherever it has no voxel, and 0 means background: a label of
10 slices on a 12-slice image would teach the model that two slices of anatomy are air. The part a
label does not cover is therefore left out of training (said by the scan), and only slices the label
covers entirely are used.
"""

from __future__ import annotations

import math

import numpy as np
import SimpleITK as sitk

from engine.data.geometry import Geometry

FULLY_COVERED = 0.99  # a slice counts as labelled when the label covers this fraction of it


def covered_slices(image: Geometry, label: Geometry) -> tuple[int, int]:
    """(first, stop) of the image slices (its third index axis) whose centres fall inside the
    label's extent, from the headers alone; (0, 0) when none does."""
    d = np.array(image.direction).reshape(3, 3)
    o, s = np.array(image.origin), np.array(image.spacing)
    ld = np.array(label.direction).reshape(3, 3)
    lo_, ls = np.array(label.origin), np.array(label.spacing)
    corners = []
    for i in (-0.5, label.size[0] - 0.5):
        for j in (-0.5, label.size[1] - 0.5):
            for k in (-0.5, label.size[2] - 0.5):
                corners.append(lo_ + ld @ (np.array([i, j, k]) * ls))
    idx = (np.linalg.inv(d) @ (np.array(corners) - o).T).T / s
    lo, hi = float(idx[:, 2].min()), float(idx[:, 2].max())
    first = max(0, math.ceil(lo - 1e-6))
    stop = min(image.size[2], math.floor(hi - 1e-6) + 1)
    return (first, stop) if stop > first else (0, 0)


def coverage_note(image: Geometry, label: Geometry) -> str | None:
    """The scan's words when the label leaves image slices uncovered (None when it covers all)."""
    first, stop = covered_slices(image, label)
    n = image.size[2]
    if first == 0 and stop == n:
        return None
    if stop <= first:
        return f"the label covers none of the {n} slices whole; the case is left out of training"
    return f"the label covers slices {first + 1}-{stop} of {n}; the other slices are left out"


def coverage_mask(label: sitk.Image, image: sitk.Image) -> sitk.Image:
    """1 where the label has a voxel, 0 where it has none, on the image grid (nearest neighbour,
    the same rule as the label's own resampling)."""
    ones = sitk.Image(label.GetSize(), sitk.sitkUInt8) + 1
    ones.CopyInformation(label)
    return sitk.Resample(ones, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def labelled_slices(coverage: sitk.Image | None, n_slices: int) -> np.ndarray:
    """(z,) bool: the slices (numpy's first axis) the label covers entirely."""
    if coverage is None:
        return np.ones(n_slices, dtype=bool)
    arr = sitk.GetArrayViewFromImage(coverage)
    return arr.reshape(arr.shape[0], -1).mean(axis=1) >= FULLY_COVERED


def labelled_rows(volumes, rows: np.ndarray, context: int = 0) -> np.ndarray:
    """The rows (volume index, z) of cached volumes whose slice and label context (z-k..z+k) the
    label covers entirely."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
    keep = np.ones(len(rows), dtype=bool)
    for i, (v, z) in enumerate(rows):
        covered = getattr(volumes[int(v)], "labelled", None)
        if covered is not None:
            keep[i] = bool(covered[max(0, z - context) : z + context + 1].all())
    return rows[keep]
