"""What a volume is when its header does not say: the modality from its intensities, and for a CT
whether it shows a head or a body (to open it with the window a radiologist would pick: Slicer's
Brain 100/50 for a head, Abdomen 350/40 for a body).

The modality rule is the one training uses (``engine.data.normalization.guess_modality``: CT holds
air near -1000 HU, MR is not negative), so the window and the trainer never disagree about it.

Head or body, from a few axial slices (the array axis closest to patient superior):

- a *skull ring*: the bone (> 300 HU) of a slice, or its convex hull, encloses at least
  ``RING_MIN_CM2`` of tissue whose median is brain-like (-20..80 HU) (the hull, not the bone itself:
  a real skull is often open at the foramina or where it lies on the headrest). A rib cage encloses
  lungs (air); an abdomen's bone hull may enclose organs, which the second rule tells apart;
- a head-sized cross-section: the largest piece of tissue (> -500 HU, holes filled) is at most
  ``HEAD_MAX_MM`` across (an adult head is about 150 x 200 mm, a trunk 300 mm or more).

Both must hold for "head"; anything else is "body". Pure NumPy + SciPy, about 0.2 s for a 512^2 x 300
volume (a dozen slices, halved in-plane).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from engine.data.normalization import guess_modality

MODALITY_FROM_INTENSITIES = "from intensities"
BONE_HU, TISSUE_HU = 300.0, -500.0
BRAIN_HU = (-20.0, 80.0)
RING_MIN_CM2 = 40.0
HEAD_MAX_MM = 260.0
_SLICES = 12


def infer_modality(arr: np.ndarray) -> str:
    """ "CT" or "MR" from the intensities alone (the training rule)."""
    return guess_modality(np.asarray(arr))


def describe_modality(modality: str | None, inferred: bool) -> str:
    """``CT``, ``CT (from intensities)`` or ``unknown``: how the window names a modality."""
    if not modality:
        return "unknown"
    return f"{modality} ({MODALITY_FROM_INTENSITIES})" if inferred else modality


def axial_axis(direction) -> int:
    """The array axis (0 = z, 1 = y, 2 = x of a (z, y, x) array) closest to patient superior."""
    d = np.eye(3) if direction is None or len(direction) != 9 else np.asarray(direction, float).reshape(3, 3)
    index_axis = int(np.argmax(np.abs(d[2, :])))
    return 2 - index_axis


def ct_body_region(arr: np.ndarray, spacing, direction=None) -> str:
    """ "head" or "body" for a CT volume in HU (``arr`` is (z, y, x), ``spacing`` (sx, sy, sz) mm)."""
    arr = np.asarray(arr)
    axis = axial_axis(direction)
    n = arr.shape[axis]
    in_plane = [2 - a for a in range(3) if a != axis]  # index axes of the rows and columns
    step = 2 if min(arr.shape[a] for a in range(3) if a != axis) >= 256 else 1
    pixel_mm2 = float(spacing[in_plane[0]]) * float(spacing[in_plane[1]]) * step * step
    pixel_mm = float(np.sqrt(pixel_mm2))
    ring = False
    widest = 0.0
    for index in np.unique(np.linspace(0, n - 1, min(n, _SLICES)).round().astype(int)):
        plane = np.take(arr, int(index), axis=axis)[::step, ::step].astype(np.float32, copy=False)
        widest = max(widest, _largest_extent_mm(plane > TISSUE_HU, pixel_mm))
        ring = ring or _skull_ring(plane, pixel_mm2)
    return "head" if ring and widest <= HEAD_MAX_MM else "body"


def _largest_extent_mm(mask: np.ndarray, pixel_mm: float) -> float:
    """The longer side (mm) of the bounding box of the largest connected piece of ``mask``."""
    if not mask.any():
        return 0.0
    labels, count = ndimage.label(ndimage.binary_fill_holes(mask))
    if count == 0:
        return 0.0
    sizes = np.bincount(labels.ravel())[1:]
    rows, cols = np.nonzero(labels == 1 + int(np.argmax(sizes)))
    return float(max(np.ptp(rows) + 1, np.ptp(cols) + 1)) * pixel_mm


def _skull_ring(plane: np.ndarray, pixel_mm2: float) -> bool:
    bone = plane > BONE_HU
    if bone.sum() * pixel_mm2 < 100.0:  # under 1 cm^2 of bone: no ring here
        return False
    if _brain_like(plane, ndimage.binary_fill_holes(bone) & ~bone, pixel_mm2):  # a closed ring
        return True
    points = np.argwhere(bone).astype(np.float64)
    try:
        hull = ConvexHull(points)
    except QhullError:  # all bone on one line
        return False
    if hull.volume * pixel_mm2 < RING_MIN_CM2 * 100.0:  # the 2-D hull's "volume" is its area
        return False
    rows, cols = np.indices(plane.shape)
    grid = np.stack([rows.ravel(), cols.ravel()], axis=1).astype(np.float64)
    inside = (grid @ hull.equations[:, :2].T + hull.equations[:, 2] <= 0.5).all(axis=1).reshape(plane.shape)
    return _brain_like(plane, inside & ~bone, pixel_mm2)


def _brain_like(plane: np.ndarray, inside: np.ndarray, pixel_mm2: float) -> bool:
    """At least RING_MIN_CM2 inside, with a brain-like median."""
    if inside.sum() * pixel_mm2 < RING_MIN_CM2 * 100.0:
        return False
    median = float(np.median(plane[inside]))
    return BRAIN_HU[0] <= median <= BRAIN_HU[1]
