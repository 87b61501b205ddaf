"""The one-pass label deformation (engine/synthesis/deform.py) against SimpleITK's exact warp of
every class through the same transform (the method it replaced), its fold-free field, the stop
flag, label maps without background and volumes one voxel thick."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import SimpleITK as sitk

from engine.errors import Cancelled
from engine.events import Control
from engine.synthesis.deform import (
    DeformParams,
    coarse_field,
    deform_label,
    random_transform,
    sample_positions,
)


def _label(shape=(20, 40, 36), spacing=(0.9, 1.1, 2.5), values=(0, 1, 2, 3), direction=None) -> sitk.Image:
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]]
    nz, ny, nx = shape
    arr = np.full(shape, values[0], np.uint8)
    arr[((y - ny / 2) / (0.4 * ny)) ** 2 + ((x - nx / 2) / (0.4 * nx)) ** 2 < 1] = values[1]
    arr[((y - ny * 0.45) / 6) ** 2 + ((x - nx * 0.55) / 5) ** 2 + ((z - nz / 2) / 5) ** 2 < 1] = values[2]
    arr[((y - ny * 0.45) / 2) ** 2 + ((x - nx * 0.55) / 2) ** 2 + ((z - nz / 2) / 2) ** 2 < 1] = values[3]
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin((-12.0, 30.5, 4.0))
    if direction is not None:
        img.SetDirection(direction)
    return img


def _sitk_reference(label: sitk.Image, transform: sitk.Transform) -> np.ndarray:
    """Each class's mask resampled (linear) by SimpleITK through ``transform``; arg-max, lowest
    value on ties, background outside the volume."""
    arr = sitk.GetArrayFromImage(label)
    best = best_value = None
    for v in np.unique(arr):
        mask = sitk.GetImageFromArray((arr == v).astype(np.float32))
        mask.CopyInformation(label)
        outside = 1.0 if v == 0 else 0.0
        warped = sitk.GetArrayFromImage(sitk.Resample(mask, label, transform, sitk.sitkLinear, outside))
        if best is None:
            best, best_value = warped, np.full(arr.shape, v, arr.dtype)
        else:
            better = warped > best
            best[better], best_value[better] = warped[better], v
    return best_value


@pytest.mark.parametrize("strength", [1.0, 3.0])
def test_one_pass_warp_matches_simpleitk_warping_each_class(strength):
    rotated = sitk.VersorTransform((0.2, 0.1, 1.0), 0.3).GetMatrix()
    label = _label(direction=rotated)
    params = DeformParams(strength=strength)
    ours = sitk.GetArrayFromImage(deform_label(label, params, np.random.default_rng(5)))
    reference = _sitk_reference(label, random_transform(label, params, np.random.default_rng(5)))
    src = sitk.GetArrayFromImage(label)
    assert (ours != src).mean() > 0.01  # it did deform
    assert (ours == reference).mean() > 0.995  # differences: ties and the field's interpolation, at edges
    for v in (1, 2, 3):
        assert abs(int((ours == v).sum()) - int((reference == v).sum())) <= max(
            3, 0.02 * (reference == v).sum()
        )


def test_the_sampling_field_folds_nowhere_even_at_full_strength():
    label = _label(shape=(12, 30, 26), spacing=(0.7, 0.7, 3.0))
    for seed in range(4):
        transform = random_transform(label, DeformParams(strength=3.0), np.random.default_rng(seed))
        field = coarse_field(label, transform)
        pos = sample_positions(field, (12, 30, 26), 0, 12).numpy().astype(np.float64)  # (z, y, x, 3)
        jac = np.stack([np.stack(np.gradient(pos[..., c], axis=(2, 1, 0)), -1) for c in range(3)], -2)
        det = np.linalg.det(jac)
        assert det.min() > 0.2, f"seed {seed}: the warp folds (Jacobian determinant {det.min():.3f})"


def test_label_without_background_and_a_one_slice_volume():
    no_background = _label(values=(1, 2, 3, 4))
    out = sitk.GetArrayFromImage(deform_label(no_background, DeformParams(), np.random.default_rng(0)))
    assert set(np.unique(out)) <= {1, 2, 3, 4}
    flat = _label(shape=(1, 30, 30))
    out = deform_label(flat, DeformParams(), np.random.default_rng(0))
    arr = sitk.GetArrayFromImage(out)
    assert (
        out.GetSize() == flat.GetSize() and (arr == 1).sum() > 0.5 * (sitk.GetArrayFromImage(flat) == 1).sum()
    )


def test_deformation_stops_when_asked():
    control = Control()
    control.stop()
    with pytest.raises(Cancelled):
        deform_label(_label(), DeformParams(), np.random.default_rng(0), control)
    paused = Control()
    paused.pause()
    threading.Timer(0.3, paused.resume).start()
    out = deform_label(_label(), DeformParams(), np.random.default_rng(0), paused)  # waits, then goes on
    assert out.GetSize() == _label().GetSize()
