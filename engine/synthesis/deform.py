"""New anatomy from a training label map: a random smooth elastic (B-spline) plus affine
deformation, applied to all classes in one pass.

The transform: an affine (rotation, scaling, translation) composed with a cubic B-spline whose
control-point displacements stay below 0.4 of their spacing, so the warp folds nowhere (the
fold-free bound for cubic B-splines); deterministic for a seed.

The warp: SimpleITK evaluates the transform once, on a coarse grid of nodes every FIELD_STEP voxels
that spans the voxel centres (the B-spline's own nodes are tens of voxels apart, so the field is
nearly linear between ours); torch upsamples that field of sample positions trilinearly to every
voxel and samples the classes' one-hot masks with ``grid_sample`` (trilinear), slab by slab of
slices. The class with the largest interpolated weight wins (the lowest value on ties), so
boundaries stay smooth and the labels integer; outside the source volume is background. A Control
is checked between slabs. Before: one float mask per class resampled through the composite
transform by SimpleITK, the transform evaluated again for every class (docs/BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk
import torch
import torch.nn.functional as F

from engine.events import Control

FIELD_STEP = 4  # voxels between the nodes where the transform is evaluated
FIELD_BLOCK = 8  # node planes evaluated at a time (the stop flag is checked between blocks)
SLAB_VOXELS = 1 << 21  # output voxels warped at a time
CLASS_GROUP_BYTES = 96 << 20  # one-hot masks sampled at a time (of the slab the warp reads)


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


def deform_label(
    label: sitk.Image, params: DeformParams, rng: np.random.Generator, control: Control | None = None
) -> sitk.Image:
    """A deformed copy of ``label`` on the same grid, with the same label values."""
    if params.strength <= 0:
        return sitk.Image(label)
    transform = random_transform(label, params, rng)
    arr = sitk.GetArrayViewFromImage(label)
    values = _label_values(arr)
    _check(control)
    classes = torch.from_numpy(_class_indices(arr, values))
    _check(control)
    field = coarse_field(label, transform, control)
    background = int(np.searchsorted(values, 0)) if values[0] == 0 else None
    nz, ny, nx = arr.shape
    out = torch.empty((nz, ny, nx), dtype=classes.dtype)
    step = max(1, SLAB_VOXELS // (ny * nx))
    with torch.no_grad():
        for z0 in range(0, nz, step):
            _check(control)
            z1 = min(nz, z0 + step)
            out[z0:z1] = _warp_slab(
                classes, len(values), background, sample_positions(field, arr.shape, z0, z1)
            )
    result = sitk.GetImageFromArray(values[out.numpy()].astype(arr.dtype, copy=False))
    result.CopyInformation(label)
    return result


def _check(control: Control | None) -> None:
    if control is not None:
        control.raise_if_stopped()
        control.wait_while_paused()


def _label_values(arr: np.ndarray) -> np.ndarray:
    """The values present, sorted: one bincount pass for small unsigned labels (2.5x np.unique)."""
    if arr.dtype.kind == "u" and arr.dtype.itemsize <= 2:
        return np.flatnonzero(np.bincount(arr.reshape(-1), minlength=1)).astype(arr.dtype)
    return np.unique(arr)


def _class_indices(arr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each voxel's rank among ``values`` (uint8, or int16 past 255 values)."""
    dtype = np.int16 if len(values) > 255 else np.uint8
    if values[0] >= 0 and values[-1] < (1 << 20):
        lut = np.zeros(int(values[-1]) + 1, dtype=dtype)
        lut[values.astype(np.int64)] = np.arange(len(values), dtype=dtype)
        return lut[arr]
    return np.searchsorted(values, arr).astype(dtype)


def coarse_field(label: sitk.Image, transform: sitk.Transform, control: Control | None = None) -> torch.Tensor:
    """Where the transform samples the label, as continuous voxel indices (x, y, z), on nodes every
    about FIELD_STEP voxels from the first to the last voxel centre: a (1, 3, mz, my, mx) tensor.
    Evaluated in blocks of FIELD_BLOCK node planes, ``control`` checked between them (a 512 x 512 x
    200 map takes ~2 s in all)."""
    size = np.array(label.GetSize())  # x, y, z
    spacing = np.array(label.GetSpacing())
    nodes = np.where(size > 1, np.ceil((size - 1) / FIELD_STEP).astype(int) + 1, 1)
    node_step = np.where(nodes > 1, (size - 1) / np.maximum(nodes - 1, 1), 1.0)  # voxels between nodes
    direction = np.array(label.GetDirection()).reshape(3, 3)
    blocks = []
    for k0 in range(0, int(nodes[2]), FIELD_BLOCK):
        _check(control)
        k1 = min(int(nodes[2]), k0 + FIELD_BLOCK)
        origin = np.array(label.GetOrigin()) + direction @ (spacing * node_step * np.array([0.0, 0.0, k0]))
        disp = sitk.TransformToDisplacementField(
            transform,
            sitk.sitkVectorFloat64,
            [int(nodes[0]), int(nodes[1]), k1 - k0],
            origin.tolist(),
            (spacing * node_step).tolist(),
            label.GetDirection(),
        )
        blocks.append(sitk.GetArrayFromImage(disp))  # (planes, my, mx, 3): physical displacement (x, y, z)
    d = np.concatenate(blocks, axis=0)
    shift = d @ np.linalg.inv(direction).T / spacing  # the displacement in voxel units along x, y, z
    grid = np.stack(
        np.meshgrid(*[np.arange(n) * s for n, s in zip(nodes[::-1], node_step[::-1])], indexing="ij")
    )
    positions = grid[::-1].transpose(1, 2, 3, 0) + shift  # (mz, my, mx, 3) as x, y, z voxel indices
    return torch.from_numpy(np.ascontiguousarray(positions.transpose(3, 0, 1, 2), dtype=np.float32))[None]


def sample_positions(field: torch.Tensor, shape: tuple[int, int, int], z0: int, z1: int) -> torch.Tensor:
    """The sample position (x, y, z voxel indices) of every voxel of slices z0..z1-1: the coarse
    field upsampled trilinearly (linear in z by hand, then bilinear in-plane). (z1 - z0, ny, nx, 3)."""
    nz, ny, nx = shape
    f = field[0]  # (3, mz, my, mx)
    mz = f.shape[1]
    if mz > 1:
        zc = torch.arange(z0, z1, dtype=torch.float64) * ((mz - 1) / (nz - 1))
        k = zc.floor().clamp(max=mz - 2).long()
        w = (zc - k).float()[None, :, None, None]
        slab = f[:, k] * (1 - w) + f[:, k + 1] * w
    else:
        slab = f[:, [0] * (z1 - z0)]
    up = F.interpolate(slab.permute(1, 0, 2, 3), size=(ny, nx), mode="bilinear", align_corners=True)
    return up.permute(0, 2, 3, 1)


def _warp_slab(
    classes: torch.Tensor, n_classes: int, background: int | None, pos: torch.Tensor
) -> torch.Tensor:
    """The winning class at ``pos`` (dz, ny, nx, 3): the classes' one-hot masks sampled trilinearly
    (all but the background, whose weight is what the others leave)."""
    nz, ny, nx = classes.shape
    lo = int(max(0, min(nz - 1, np.floor(float(pos[..., 2].min())))))
    hi = int(max(lo, min(nz - 1, np.ceil(float(pos[..., 2].max())))))
    src = classes[lo : hi + 1]
    pad = int(min(src.shape) == 1)  # an axis of one voxel: add zero voxels around it to sample between
    extent = torch.tensor([nx, ny, hi - lo + 1], dtype=torch.float32) + 2 * pad - 1
    grid = ((pos - torch.tensor([-pad, -pad, lo - pad], dtype=torch.float32)) * (2.0 / extent) - 1.0)[None]
    plane = (ny + 2 * pad) * (nx + 2 * pad) * (hi - lo + 1 + 2 * pad) * 4
    group = max(1, min(n_classes, CLASS_GROUP_BYTES // plane))
    if background is not None:
        rest = torch.zeros(pos.shape[:-1])  # the weight of the non-background classes, summed
        best, best_class = None, torch.full(pos.shape[:-1], background, dtype=torch.long)
    else:
        best = best_class = None
    others = [c for c in range(n_classes) if c != background]
    for i in range(0, len(others), group):
        chosen = torch.tensor(others[i : i + group], dtype=src.dtype)
        masks = (src[None] == chosen[:, None, None, None]).float()
        if pad:
            masks = F.pad(masks, (1, 1, 1, 1, 1, 1))
        sampled = F.grid_sample(masks[None], grid, mode="bilinear", padding_mode="zeros", align_corners=True)[
            0
        ]
        top, arg = sampled.max(dim=0)
        arg = chosen.long()[arg]
        if background is not None:
            rest += sampled.sum(dim=0)
        if best is None:
            best, best_class = top, arg
        else:
            better = top > best  # ties: the lower class (earlier group) stays
            best = torch.where(better, top, best)
            best_class = torch.where(better, arg, best_class)
    if background is not None:
        # background: its own share of the volume plus everything outside it (1 - inside)
        p_background = 1.0 - rest
        keep = p_background >= best if best is not None else torch.ones_like(p_background, dtype=torch.bool)
        best_class = torch.where(keep, torch.full_like(best_class, background), best_class)
    return best_class.to(classes.dtype)
