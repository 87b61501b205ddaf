"""Synthetic training slices for the utility study, one pool per label source, on the run's
training grid (the cached, resampled volumes the generator was trained on).

The label maps come from the run's *training* slices only: each volume's training slices are cut
into contiguous segments (for a single-case run, the parts outside the held-out block), and every
segment is used as it is (``train``), deformed (``augment``, engine/synthesis/deform.py) or given
more of the rare label (``rebalance``, engine/synthesis/rebalance.py, regions copied from the
training segments). No held-out anatomy enters a synthetic slice.

A pool is ordered so that any prefix is a fair sample: copy 0 of every segment (its training
slices in a seeded random order), then copy 1 (a new deformation, new rare regions, a new style),
and so on. The ``ratio`` r condition takes the first ``round(r * n_real)`` slices, so the pools of
smaller ratios are subsets of the larger ones. Each (copy, segment) is one synthetic volume with
one style code, as an exported volume is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from engine.errors import EvaluationError
from engine.evaluation.real_data import EvaluationData
from engine.evaluation.sampling import SliceGenerator, generate_for_rows
from engine.synthesis.deform import DeformParams, deform_label
from engine.synthesis.rebalance import RebalanceParams, extract_regions, insert_regions

SOURCE_KINDS = ("train", "augment", "rebalance")


@dataclass
class Segment:
    volume: int
    z0: int  # first slice of the segment in its volume
    zs: np.ndarray  # the training (foreground) slices inside it, relative to z0

    @property
    def depth(self) -> int:
        return int(self.zs.max()) + 1


@dataclass(frozen=True)
class SourceSettings:
    seed: int = 0
    deform_strength: float = 1.0
    rare_class: int | None = None  # class index of the rare label (rebalance)
    rare_copies: int = 2  # regions added per synthetic volume
    batch_size: int = 8


def training_segments(rows: np.ndarray) -> list[Segment]:
    """Contiguous runs of training slices, per volume."""
    out = []
    rows = np.asarray(rows).reshape(-1, 2)
    for v in sorted({int(r) for r in rows[:, 0]}):
        zs = np.sort(rows[rows[:, 0] == v, 1])
        for run in np.split(zs, np.flatnonzero(np.diff(zs) > 1) + 1):
            out.append(Segment(v, int(run[0]), (run - run[0]).astype(np.int64)))
    return out


def segment_label(data: EvaluationData, seg: Segment) -> np.ndarray:
    return np.ascontiguousarray(data.volumes[seg.volume].label()[seg.z0 : seg.z0 + seg.depth])


def rare_class(
    data: EvaluationData, classes: np.ndarray, wanted_value: int | None
) -> tuple[int | None, float]:
    """The rare label's class index (the stored value asked for, else the rarest foreground label
    of the training slices) and its share of the foreground pixels."""
    counts = np.bincount(np.asarray(classes).ravel(), minlength=data.num_classes).astype(np.float64)
    fg = counts[1:].sum()
    if wanted_value is not None:
        values = data.label_table.values
        if wanted_value not in values:
            raise EvaluationError(f"rare label {wanted_value}: not in the run's label table {values}.")
        c = values.index(wanted_value)
        if c == 0:
            raise EvaluationError("rare label: choose a foreground label, not the background.")
    else:
        held = [c for c in range(1, data.num_classes) if counts[c] > 0]
        if not held:
            return None, 0.0
        c = min(held, key=lambda k: counts[k])
    return c, float(counts[c] / fg) if fg else 0.0


def rare_regions(data: EvaluationData, segments: list[Segment], rare: int) -> list:
    regions = []
    for seg in segments:
        regions += extract_regions(segment_label(data, seg), rare, data.volumes[seg.volume].case_id)
    return regions


def source_label(
    kind: str,
    label: np.ndarray,
    spacing_xyz: tuple[float, float, float],
    rng: np.random.Generator,
    settings: SourceSettings,
    regions: list,
) -> np.ndarray:
    """A segment's label map as the label source makes it."""
    if kind == "train":
        return label
    if kind == "augment":
        img = sitk.GetImageFromArray(label)
        img.SetSpacing(tuple(float(s) for s in spacing_xyz))
        return sitk.GetArrayFromImage(deform_label(img, DeformParams(strength=settings.deform_strength), rng))
    if kind == "rebalance":
        params = RebalanceParams(int(settings.rare_class), copies=settings.rare_copies)
        return insert_regions(label, regions, params, rng)[0]
    raise EvaluationError(f"label source {kind!r}: use one of {', '.join(SOURCE_KINDS)}")


def synthetic_pool(
    data: EvaluationData,
    generator: SliceGenerator,
    kind: str,
    segments: list[Segment],
    count: int,
    settings: SourceSettings,
    regions: list | None = None,
    tick: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` slices of the ``kind`` pool: images (count, H, W) in [-1, 1], classes."""
    kind_id = SOURCE_KINDS.index(kind) if kind in SOURCE_KINDS else 99
    if kind == "rebalance" and not regions:
        raise EvaluationError("rebalance: the rare label has no region in the training maps to copy.")
    per_copy = [(j, int(z)) for j, seg in enumerate(segments) for z in seg.zs]
    if count <= 0 or not per_copy:
        s = data.slice_shape
        return np.zeros((0, *s), np.float32), np.zeros((0, *s), np.uint8)
    order = []  # (copy, segment, z) in pool order
    copy = 0
    while len(order) < count:
        perm = np.random.default_rng([settings.seed, kind_id, copy, 29]).permutation(len(per_copy))
        order += [(copy, *per_copy[i]) for i in perm]
        copy += 1
    order = order[:count]
    images = np.empty((count, *data.slice_shape), np.float32)
    classes = np.empty((count, *data.slice_shape), np.uint8)
    groups: dict[tuple[int, int], list[int]] = {}
    for pos, (k, j, _) in enumerate(order):
        groups.setdefault((k, j), []).append(pos)
    for (k, j), positions in sorted(groups.items()):
        seg = segments[j]
        rng = np.random.default_rng([settings.seed, kind_id, k, j, 31])
        spacing = data.volumes[seg.volume].geometry.spacing
        label = source_label(kind, segment_label(data, seg), spacing, rng, settings, regions or [])
        zs = np.array([order[p][2] for p in positions], np.int64)
        style = int(np.random.default_rng([settings.seed, kind_id, k, j, 37]).integers(0, 2**31 - 1))
        images[positions] = generate_for_rows(
            lambda part, label=label: data.label_contexts(label, part),
            zs,
            generator,
            [style] * len(zs),
            settings.batch_size,
            tick,
        )
        classes[positions] = data.label_slices(label, zs)
    return images, classes
