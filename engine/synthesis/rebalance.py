"""More of a rare label (a lesion): copy its connected regions from the training maps, scale them,
and place them into other label maps inside the structure that held them originally."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from engine.errors import ConfigError


@dataclass(frozen=True)
class RebalanceParams:
    rare_label: int
    copies: int = 2  # regions added per label map
    scale_min: float = 0.8
    scale_max: float = 1.25
    min_voxels: int = 8  # ignore specks smaller than this

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Region:
    mask: np.ndarray  # bool (z, y, x), cropped to the region
    host: int  # the label value around the region
    source_case: str


def extract_regions(label: np.ndarray, rare: int, case_id: str, min_voxels: int = 8) -> list[Region]:
    """Connected regions of the rare label with the label that surrounds each one (its host)."""
    comps, n = ndimage.label(label == rare)
    regions = []
    for i, sl in enumerate(ndimage.find_objects(comps), start=1):
        if sl is None:
            continue
        mask = comps[sl] == i
        if mask.sum() < min_voxels:
            continue
        grown = tuple(slice(max(0, s.start - 2), s.stop + 2) for s in sl)
        ring = ndimage.binary_dilation(comps[grown] == i, iterations=2) & (comps[grown] != i)
        around = label[grown][ring]
        around = around[(around != rare) & (around != 0)] if np.any((around != rare) & (around != 0)) else around[around != rare]
        host = int(np.bincount(around.astype(np.int64)).argmax()) if around.size else 0
        regions.append(Region(mask, host, case_id))
    return regions


def insert_regions(
    label: np.ndarray, regions: list[Region], params: RebalanceParams, rng: np.random.Generator
) -> tuple[np.ndarray, list[dict]]:
    """Paste ``params.copies`` scaled regions into ``label`` where their host structure is; returns
    the new map and what was placed where."""
    if not regions:
        raise ConfigError(f"Label {params.rare_label} occurs in no training label map; nothing to copy.")
    out = label.copy()
    placed = []
    for _ in range(params.copies):
        region = regions[int(rng.integers(len(regions)))]
        factor = float(rng.uniform(params.scale_min, params.scale_max))
        mask = ndimage.zoom(region.mask.astype(np.float32), factor, order=1) > 0.5
        if not mask.any():
            continue
        host_voxels = np.argwhere(out == region.host) if region.host != 0 else np.argwhere(out != 0)
        if host_voxels.size == 0:
            continue
        for _attempt in range(20):
            centre = host_voxels[int(rng.integers(len(host_voxels)))]
            start = centre - np.array(mask.shape) // 2
            if np.any(start < 0) or np.any(start + mask.shape > np.array(out.shape)):
                continue
            sl = tuple(slice(int(a), int(a + m)) for a, m in zip(start, mask.shape))
            target = out[sl]
            inside = (target == region.host) if region.host != 0 else (target != 0)
            if inside[mask].mean() < 0.9:  # most of the region must lie in its host structure
                continue
            target[mask & inside] = params.rare_label
            placed.append({"centre_zyx": [int(v) for v in centre], "scale": round(factor, 3),
                           "voxels": int((mask & inside).sum()), "from_case": region.source_case,
                           "host_label": region.host})
            break
    return out, placed
