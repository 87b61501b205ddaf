"""Image geometry (size, spacing, origin, direction) and the checks between an image and its label."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

SPACING_RTOL = 1e-3
DIRECTION_ATOL = 1e-3
ORIGIN_FRACTION_OF_VOXEL = 0.05


@dataclass(frozen=True)
class Geometry:
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

    def apply_to(self, image: sitk.Image) -> sitk.Image:
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(self.direction)
        return image

    def reference_image(self) -> sitk.Image:
        ref = sitk.Image([int(v) for v in self.size], sitk.sitkUInt8)
        return self.apply_to(ref)

    def corners(self) -> np.ndarray:
        """The 8 corners of the voxel-centre bounding box in physical (LPS) coordinates."""
        d = np.array(self.direction).reshape(3, 3)
        o = np.array(self.origin)
        s = np.array(self.spacing)
        out = []
        for i in (0, self.size[0] - 1):
            for j in (0, self.size[1] - 1):
                for k in (0, self.size[2] - 1):
                    out.append(o + d @ (np.array([i, j, k]) * s))
        return np.array(out)

    def to_json(self) -> dict:
        return {
            "size": list(self.size),
            "spacing": list(self.spacing),
            "origin": list(self.origin),
            "direction": list(self.direction),
        }

    @classmethod
    def from_json(cls, data: dict) -> Geometry:
        return cls(
            tuple(int(v) for v in data["size"]),
            tuple(float(v) for v in data["spacing"]),
            tuple(float(v) for v in data["origin"]),
            tuple(float(v) for v in data["direction"]),
        )


def same_grid(a: Geometry, b: Geometry) -> bool:
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
