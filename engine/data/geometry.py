"""Image geometry (size, spacing, origin, direction), the one grid check between an image and its
label (``same_grid``), and fresh images made from voxels and a geometry only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

SPACING_RTOL = 1e-3
DIRECTION_ATOL = 1e-3
ORIGIN_FRACTION_OF_VOXEL = 0.05


@dataclass(frozen=True)
class Geometry:
    """The voxel grid in SimpleITK (LPS) terms."""

    size: tuple[int, int, int]  # (x, y, z) as SimpleITK reports
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]  # 9 values, row-major, columns are the axis directions (LPS)

    @classmethod
    def of(cls, image_or_reader) -> Geometry:
        return cls(
            tuple(int(v) for v in image_or_reader.GetSize()),
            tuple(float(v) for v in image_or_reader.GetSpacing()),
            tuple(float(v) for v in image_or_reader.GetOrigin()),
            tuple(float(v) for v in image_or_reader.GetDirection()),
        )

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 direction matrix (columns: the image axes in LPS)."""
        return np.asarray(self.direction, dtype=float).reshape(3, 3)

    def apply_to(self, image: sitk.Image) -> sitk.Image:
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(self.direction)
        return image

    def image(self, array: np.ndarray) -> sitk.Image:
        """A fresh SimpleITK image (empty MetaData dictionary) from a (z, y, x) array on this grid."""
        return self.apply_to(sitk.GetImageFromArray(np.ascontiguousarray(array)))

    def reference_image(self) -> sitk.Image:
        ref = sitk.Image([int(v) for v in self.size], sitk.sitkUInt8)
        return self.apply_to(ref)

    def same_grid(self, other: Geometry) -> bool:
        return same_grid(self, other)

    def corners(self) -> np.ndarray:
        """The 8 corners of the voxel-centre bounding box in physical (LPS) coordinates."""
        d = self.matrix
        o = np.array(self.origin)
        s = np.array(self.spacing)
        out = []
        for i in (0, self.size[0] - 1):
            for j in (0, self.size[1] - 1):
                for k in (0, self.size[2] - 1):
                    out.append(o + d @ (np.array([i, j, k]) * s))
        return np.array(out)

    def to_json(self) -> dict:
        """The grid as manifest.json and the cache record it (x, y, z order; LPS)."""
        return {
            "size_xyz": list(self.size),
            "spacing_xyz": list(self.spacing),
            "origin_lps": list(self.origin),
            "direction": list(self.direction),
        }

    @classmethod
    def from_json(cls, data: dict) -> Geometry:
        """Reads ``to_json`` and the older short keys (size, spacing, origin) of cache entries."""

        def get(key: str) -> list:
            return data[key] if key in data else data[key.split("_")[0]]

        return cls(
            tuple(int(v) for v in get("size_xyz")),
            tuple(float(v) for v in get("spacing_xyz")),
            tuple(float(v) for v in get("origin_lps")),
            tuple(float(v) for v in data["direction"]),
        )


def fresh_image(arr: np.ndarray, like: sitk.Image | Geometry) -> sitk.Image:
    """A new image from voxels and a geometry only (no metadata carried over from any source)."""
    return (like if isinstance(like, Geometry) else Geometry.of(like)).image(arr)


def same_grid(a: Geometry, b: Geometry) -> bool:
    """The one tolerance for "the label lies on the image grid" (loading, scanning and export)."""
    if a.size != b.size:
        return False
    if not np.allclose(a.spacing, b.spacing, rtol=SPACING_RTOL, atol=1e-6):
        return False
    if not np.allclose(a.direction, b.direction, atol=DIRECTION_ATOL):
        return False
    tol = ORIGIN_FRACTION_OF_VOXEL * min(a.spacing)
    return bool(np.all(np.abs(np.subtract(a.origin, b.origin)) <= max(tol, 1e-4)))


def describe_difference(image: Geometry, label: Geometry) -> str:
    parts = []
    if image.size != label.size:
        parts.append(f"size {label.size} vs image {image.size}")
    if not np.allclose(image.spacing, label.spacing, rtol=SPACING_RTOL, atol=1e-6):
        parts.append(f"spacing {_fmt(label.spacing)} vs image {_fmt(image.spacing)}")
    if not np.allclose(image.origin, label.origin, atol=ORIGIN_FRACTION_OF_VOXEL * min(image.spacing)):
        parts.append(f"origin {_fmt(label.origin)} vs image {_fmt(image.origin)}")
    if not np.allclose(image.direction, label.direction, atol=DIRECTION_ATOL):
        parts.append("direction differs")
    return "; ".join(parts) or "same grid"


def overlap_fraction(image: Geometry, label: Geometry) -> float:
    """Fraction of the label's physical bounding box that lies inside the image's bounding box,
    measured in the image's index space."""
    d = np.array(image.direction).reshape(3, 3)
    o = np.array(image.origin)
    s = np.array(image.spacing)
    idx = (np.linalg.inv(d) @ (label.corners() - o).T).T / s  # continuous indices in image space
    lo, hi = idx.min(axis=0), idx.max(axis=0)
    img_lo = np.full(3, -0.5)
    img_hi = np.array(image.size) - 0.5
    inter = np.clip(np.minimum(hi + 0.5, img_hi) - np.maximum(lo - 0.5, img_lo), 0, None)
    vol = np.prod(np.maximum(hi - lo + 1.0, 1e-9))
    return float(np.prod(inter) / vol)


def resample_label_to(label: sitk.Image, reference: sitk.Image) -> sitk.Image:
    """Nearest-neighbour resampling of a label map onto the image grid (labels stay integer)."""
    return sitk.Resample(
        label, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, label.GetPixelID()
    )


def _fmt(values) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"
