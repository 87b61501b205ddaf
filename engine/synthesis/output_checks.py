"""A synthetic volume is checked before it is kept: finite, and not one value throughout.

A generator with damaged weights (or one that diverged) draws NaN, or a constant that clamps to a
single grey value; exported, that is a labelled "image" of nothing, written with exit code 0.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from engine.errors import CheckpointError


def check_synthetic_volume(image: sitk.Image, checkpoint_name: str) -> None:
    """CheckpointError when ``image`` holds NaN/inf voxels or a single value."""
    arr = sitk.GetArrayViewFromImage(image)
    finite = np.isfinite(arr)
    if not finite.all():
        n = int(arr.size - np.count_nonzero(finite))
        raise CheckpointError(
            f"The generator of {checkpoint_name} drew {n} NaN or infinite voxels ({100.0 * n / arr.size:.3g}% of the "
            "volume): its weights are damaged or training diverged. Nothing was exported; use an earlier checkpoint "
            "(--checkpoint) or train again."
        )
    lo, hi = float(arr.min()), float(arr.max())
    if lo == hi:
        raise CheckpointError(
            f"The generator of {checkpoint_name} drew a constant volume (every voxel {lo:g}): its weights are damaged "
            "or it is untrained. Nothing was exported; use an earlier checkpoint (--checkpoint) or train again."
        )
