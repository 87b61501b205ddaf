"""New anatomy from a training label map: a random smooth elastic (B-spline) plus affine
deformation. Each class is warped as a soft mask and the result is the arg-max, so boundaries stay
smooth and the labels stay integer; the B-spline displacements are kept small relative to the
control-point spacing so the warp folds nowhere (no tearing)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk


@dataclass(frozen=True)
class DeformParams:
    strength: float = 1.0  # 0 = identity; 1 = the default amounts below; 2 = twice as much
    rotation_deg: float = 6.0  # max in-plane rotation (and a third of it out of plane)
    scale: float = 0.06  # max relative scaling per axis
    translation_mm: float = 4.0
    elastic_mm: float = 6.0  # max B-spline control-point displacement (capped to stay fold-free)
    grid_nodes: int = 5  # control points per axis

    def to_json(self) -> dict:
        return asdict(self)


def random_transform(label: sitk.Image, params: DeformParams, rng: np.random.Generator) -> sitk.Transform:
    s = float(params.strength)
    dim = 3
    size = np.array(label.GetSize(), dtype=float)
    spacing = np.array(label.GetSpacing(), dtype=float)
    centre = label.TransformContinuousIndexToPhysicalPoint(((size - 1) / 2).tolist())

    affine = sitk.AffineTransform(dim)
    affine.SetCenter(centre)
    angles = np.deg2rad(params.rotation_deg * s) * rng.uniform(-1, 1, 3) * np.array([1 / 3, 1 / 3, 1.0])
    rot = sitk.Euler3DTransform(centre, *angles.tolist())
    scale = 1.0 + params.scale * s * rng.uniform(-1, 1, 3)
    matrix = np.array(rot.GetMatrix()).reshape(3, 3) @ np.diag(scale)
    affine.SetMatrix(matrix.ravel().tolist())
    affine.SetTranslation((params.translation_mm * s * rng.uniform(-1, 1, 3)).tolist())

    mesh = [max(1, params.grid_nodes - 3)] * dim  # B-spline order 3: nodes = mesh + 3
    bspline = sitk.BSplineTransformInitializer(label, mesh, 3)
    n_params = len(bspline.GetParameters())
    node_spacing = size * spacing / np.array(mesh)
    # A cubic B-spline is fold-free while control displacements stay below ~0.4 of their spacing.
    max_disp = min(params.elastic_mm * s, 0.4 * float(node_spacing.min()))
    disp = rng.uniform(-1, 1, n_params) * max_disp
    bspline.SetParameters(disp.tolist())

    composite = sitk.CompositeTransform(dim)
    composite.AddTransform(affine)
    composite.AddTransform(bspline)
    return composite


def deform_label(label: sitk.Image, params: DeformParams, rng: np.random.Generator) -> sitk.Image:
    """A deformed copy of ``label`` on the same grid, with the same label values."""
    if params.strength <= 0:
        return sitk.Image(label)
    transform = random_transform(label, params, rng)
    arr = sitk.GetArrayViewFromImage(label)
    values = np.unique(arr)
    best = None
    best_val = None
    for v in values:
        mask = sitk.GetImageFromArray((arr == v).astype(np.float32))
        mask.CopyInformation(label)
        warped = sitk.GetArrayFromImage(
            sitk.Resample(mask, label, transform, sitk.sitkLinear, 1.0 if v == 0 else 0.0, sitk.sitkFloat32)
        )
        if best is None:
            best, best_val = warped, np.full(warped.shape, v, dtype=arr.dtype)
        else:
            better = warped > best
            best[better] = warped[better]
            best_val[better] = v
    out = sitk.GetImageFromArray(best_val)
    out.CopyInformation(label)
    return out
