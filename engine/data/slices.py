"""Torch datasets of 2-D training samples read from the cache, and the class-balanced sampler.

A sample is the one-hot label of slices z-k..z+k (2.5-D context, C*(2k+1) channels, slice-major)
and the image slice z in [-1, 1] at the cache's (native) spacing: for training a random
``image_size`` crop (centred, with probability ``FOCUS``, on a random pixel of a foreground class
the slice holds, so crops show anatomy rather than air), optionally flipped left-right; for
validation the whole slice padded to a common size. With ``stack`` > 1 an item is that many
consecutive slices z, z+1, ... with the same crop and flip (for the discriminator that judges
neighbouring slices together): label (S, C*(2k+1), H, W), image (S, 1, H, W).
Every random choice comes from a per-sample seed, so the data order and augmentation are a pure
function of (seed, iteration): a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from engine.data.cache import CachedVolume


def label_context(label: np.ndarray, z: int, k: int) -> np.ndarray:
    """The label slices z-k..z+k (edges repeated), shape (2k+1, y, x)."""
    idx = np.clip(np.arange(z - k, z + k + 1), 0, label.shape[0] - 1)
    return np.asarray(label[idx])


def one_hot(context: np.ndarray, num_classes: int) -> np.ndarray:
    """(2k+1, y, x) class indices -> (num_classes*(2k+1), y, x) float32, slice-major from z-k to
    z+k (the layout of engine.models.context: the centre slice's classes at channels k*C..(k+1)*C)."""
    k2 = context.shape[0]
    dtype = context.dtype if context.dtype.kind == "u" and num_classes <= np.iinfo(context.dtype).max + 1 else None
    classes = np.arange(num_classes, dtype=dtype)[:, None, None]
    out = (context[:, None, :, :] == classes).astype(np.float32)  # (2k+1, C, y, x), no transposed copy
    return out.reshape(k2 * num_classes, *context.shape[1:])


FOCUS = 0.9  # share of training crops centred on a foreground pixel


def crop_or_pad(arrays: list[np.ndarray], size, rng: np.random.Generator | None, fills: list[float],
                centre: tuple[int, int] | None = None):
    """Crop or pad the last two axes of every array to ``size`` (an int, or (height, width)):
    around ``centre`` (y, x) when given, else at random if rng, else centred; padding is centred."""
    sh, sw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    h, w = arrays[0].shape[-2:]

    def origin(n: int, s: int, c: int | None) -> int:
        if n <= s:
            return 0
        if c is not None:
            return int(np.clip(c - s // 2, 0, n - s))
        return int(rng.integers(0, n - s + 1)) if rng is not None else (n - s) // 2

    oy = origin(h, sh, None if centre is None else centre[0])
    ox = origin(w, sw, None if centre is None else centre[1])
    py, px = max(0, sh - h), max(0, sw - w)
    out = []
    for arr, fill in zip(arrays, fills, strict=False):
        a = arr[..., oy : oy + sh, ox : ox + sw] if (h > sh or w > sw) else arr
        if py or px:
            pad = [(0, 0)] * (a.ndim - 2) + [(py // 2, py - py // 2), (px // 2, px - px // 2)]
            a = np.pad(a, pad, constant_values=fill)
        out.append(a)
    return out


def padded_size(volumes: list[CachedVolume], multiple: int) -> tuple[int, int]:
    """(height, width) that holds every volume's whole slice, rounded up to ``multiple``."""
    h = max(v.shape[1] for v in volumes)
    w = max(v.shape[2] for v in volumes)
    return int(-(-h // multiple) * multiple), int(-(-w // multiple) * multiple)


def focus_centre(label_slice: np.ndarray, present: np.ndarray, rng: np.random.Generator) -> tuple[int, int] | None:
    """A random pixel (y, x) of a random foreground class the slice holds (None: draw uniformly)."""
    classes = np.flatnonzero(present[1:]) + 1
    if classes.size == 0 or rng.random() >= FOCUS:
        return None
    c = int(classes[rng.integers(0, classes.size)])
    where = np.flatnonzero(np.asarray(label_slice).reshape(-1) == c)
    if where.size == 0:
        return None
    flat = int(where[rng.integers(0, where.size)])
    return divmod(flat, label_slice.shape[-1])


class SliceDataset(Dataset):
    """Items are (index, seed) pairs (or plain indices, no augmentation) into a list of slices
    (for stacks, the first slice of each stack: see ``stack_rows``)."""

    def __init__(
        self,
        volumes: list[CachedVolume],
        slices: np.ndarray,  # (N, 2): volume index, z
        image_size: int,
        context: int,
        num_classes: int,
        augment: bool = True,
        flip: bool = True,
        stack: int = 1,
        whole: tuple[int, int] | None = None,  # validation: whole slices padded to (height, width)
    ) -> None:
        self.volumes = volumes
        self.slices = np.asarray(slices, dtype=np.int64).reshape(-1, 2)
        self.image_size = image_size
        self.context = context
        self.num_classes = num_classes
        self.augment = augment
        self.flip = flip
        self.stack = max(1, int(stack))
        self.whole = whole

    def __len__(self) -> int:
        return len(self.slices)

    def _read(self, v: int, z: int) -> tuple[np.ndarray, np.ndarray]:
        """Copies of image slices z..z+S-1 (float32, (S, y, x)) and label slices z-k..z+S-1+k.
        The memory maps are opened for this sample only: the pages read stay in the OS page cache
        instead of piling up in this process, so its memory stays bounded whatever the size of the cache."""
        image, label = self.volumes[v].image(), self.volumes[v].label()
        top = image.shape[0] - 1
        zs = np.clip(np.arange(z, z + self.stack), 0, top)
        idx = np.clip(np.arange(z - self.context, z + self.stack + self.context), 0, top)
        return np.asarray(image[zs], dtype=np.float32), np.asarray(label[idx])

    def __getitem__(self, item) -> dict[str, torch.Tensor]:
        index, seed = item if isinstance(item, tuple) else (item, None)
        v, z = (int(x) for x in self.slices[index])
        rng = np.random.default_rng(seed) if (self.augment and seed is not None) else None
        img, lab = self._read(v, z)
        k = self.context
        if self.whole is not None:
            lab, img = crop_or_pad([lab, img], self.whole, None, [0, -1.0])
        else:
            centre = focus_centre(lab[k], self.volumes[v].presence[z], rng) if rng is not None else None
            lab, img = crop_or_pad([lab, img], self.image_size, rng, [0, -1.0], centre)
        if rng is not None and self.flip and rng.random() < 0.5:
            lab, img = lab[..., ::-1], img[..., ::-1]
        lab = np.ascontiguousarray(lab)
        hots = [one_hot(lab[s : s + 2 * k + 1], self.num_classes) for s in range(self.stack)]
        label_t = torch.from_numpy(np.stack(hots) if self.stack > 1 else hots[0])
        image_t = torch.from_numpy(np.ascontiguousarray(img[:, None] if self.stack > 1 else img[:1]))
        return {"label": label_t, "image": image_t, "index": torch.tensor(index)}


def slice_table(volumes: list[CachedVolume], per_volume: dict[str, np.ndarray]) -> np.ndarray:
    rows = []
    for v, vol in enumerate(volumes):
        for z in per_volume.get(vol.case_id, []):
            rows.append((v, int(z)))
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def stack_rows(rows: np.ndarray, stack: int) -> np.ndarray:
    """The rows (v, z) whose next ``stack - 1`` slices (v, z+1), ... are rows too: the first slices
    of the stacks a dataset may draw (so no stack reaches into held-out or missing slices)."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
    if stack <= 1 or len(rows) == 0:
        return rows
    have = {(int(v), int(z)) for v, z in rows}
    keep = [all((int(v), int(z) + s) in have for s in range(1, stack)) for v, z in rows]
    return rows[np.array(keep, dtype=bool)]


def sampling_weights(
    volumes: list[CachedVolume], slices: np.ndarray, class_balance: float, empty_weight: float = 0.1
) -> np.ndarray:
    """Probability of each slice. class_balance 0 = uniform over slices; 1 = every foreground class
    drawn equally often (slices holding rare classes oversampled). Background-only slices are
    drawn empty_weight times as often as others."""
    presence = np.stack([volumes[v].presence[z] for v, z in slices]) if len(slices) else np.zeros((0, 1), bool)
    fg = presence[:, 1:] if presence.shape[1] > 1 else np.zeros((len(slices), 0), bool)
    has_fg = fg.any(axis=1)
    uniform = np.where(has_fg, 1.0, empty_weight)
    uniform = uniform / uniform.sum()
    if class_balance <= 0 or fg.shape[1] == 0 or not has_fg.any():
        return uniform
    counts = fg.sum(axis=0)
    per_class = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0) / max(1, int((counts > 0).sum()))
    balanced = (fg * per_class).sum(axis=1)
    balanced = balanced / balanced.sum()
    w = (1.0 - class_balance) * uniform + class_balance * balanced
    return w / w.sum()


class SliceSampler:
    """Draws the batch of a given iteration (and rank) from fixed weights: a pure function of
    (seed, iteration, rank), so resumed runs draw the same data."""

    def __init__(self, weights: np.ndarray, seed: int) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.cdf = np.cumsum(self.weights)
        self.cdf /= self.cdf[-1]
        self.seed = int(seed)

    def batch(self, iteration: int, batch_size: int, rank: int = 0) -> list[tuple[int, int]]:
        rng = np.random.default_rng([self.seed, int(iteration), int(rank)])
        idx = np.searchsorted(self.cdf, rng.random(batch_size), side="right")
        idx = np.minimum(idx, len(self.cdf) - 1)
        seeds = rng.integers(0, 2**31 - 1, size=batch_size)
        return [(int(i), int(s)) for i, s in zip(idx, seeds, strict=False)]


class IterationBatches(Sampler):
    """A batch sampler for DataLoader: the batches of iterations start..stop-1 for one rank."""

    def __init__(self, sampler: SliceSampler, batch_size: int, start: int, stop: int, rank: int = 0) -> None:
        self.sampler, self.batch_size, self.start, self.stop, self.rank = sampler, batch_size, start, stop, rank

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for it in range(self.start, self.stop):
            yield self.sampler.batch(it, self.batch_size, self.rank)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)
