"""What a slice view accepts: a 3-D (z, y, x) image, an optional integer label map of the same
shape, three positive spacings. Clear messages for anything else; a 2-D image is one slice."""

from __future__ import annotations

import numpy as np


def checked_volume(
    image: np.ndarray, spacing, label: np.ndarray | None
) -> tuple[np.ndarray, tuple[float, float, float], np.ndarray | None]:
    """(image, spacing, label) ready to show, or ValueError saying what is wrong. No copies."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[np.newaxis]
    if image.ndim != 3 or 0 in image.shape:
        raise ValueError(f"A volume must be a non-empty 3-D array (z, y, x); got shape {image.shape}.")
    if image.dtype.kind not in "uifb":
        raise ValueError(f"A volume holds numbers; got {image.dtype}.")
    if image.dtype == bool:
        image = image.view(np.uint8)
    if label is not None:
        label = np.asarray(label)
        label = label[np.newaxis] if label.ndim == 2 else label
        if label.shape != image.shape:
            raise ValueError(f"The label map's shape {label.shape} differs from the image's {image.shape}.")
        if label.dtype.kind not in "uib":
            raise ValueError(f"A label map holds integers; got {label.dtype}.")
        if label.dtype == bool:
            label = label.view(np.uint8)
        if label.dtype.kind == "i" and int(label.min()) < 0:
            raise ValueError("A label map holds values >= 0; this one has negative values.")
    sp = tuple(float(s) for s in spacing)
    if len(sp) != 3 or not all(np.isfinite(s) and s > 0 for s in sp):
        raise ValueError(f"Spacing must be three positive numbers (sx, sy, sz) in mm; got {tuple(spacing)}.")
    return image, sp, label  # type: ignore[return-value]


def view_volume_args(volume, label_table=None) -> dict:
    """``SliceView.set_volume`` keyword arguments for an engine ``ViewVolume`` (engine.data.viewing):
    the one place the viewers turn what the engine loaded into what a slice view shows."""
    return dict(
        image=volume.image,
        spacing=volume.spacing,
        label=volume.label,
        label_table=label_table,
        window=volume.window,
        modality=volume.modality,
        origin=volume.origin,
        direction=volume.direction,
        body_region=volume.body_region,
        modality_text=volume.modality_text,
    )
