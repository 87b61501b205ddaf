"""The utility study's segmenter: MONAI's DynUNet in its nnU-Net-like 2-D configuration, trained
with MONAI's Dice + cross-entropy loss, scored with MONAI's Dice and 95 % Hausdorff metrics.

- Network: ``monai.networks.nets.DynUNet``, 2-D, one image channel in, one logit per class out;
  3x3 kernels, stride 1 then 2 per level (``levels`` levels, fewer where the slice would get smaller
  than 4 px at the bottom), ``filters`` channels doubled per level, instance norm and leaky ReLU
  (nnU-Net's defaults), no deep supervision.
- Loss: ``monai.losses.DiceCELoss`` (soft Dice over the foreground classes, batch-pooled as
  nnU-Net's "batch Dice", plus cross-entropy).
- Optimiser: AdamW with a polynomial learning-rate decay (power 0.9, nnU-Net's schedule), chosen
  over nnU-Net's SGD because a budget of a few hundred steps must converge.
- Sampling: class-balanced slices. A share ``foreground_oversample`` of each batch is drawn by
  first choosing a foreground class uniformly among those the training set holds, then a slice that
  holds it (so a rare label is seen as often as a common one); the rest uniformly. The patch is
  ``patch_size`` square crops (the whole slice where it is smaller), centred on a pixel of the
  chosen class for the class-balanced draws (MONAI's RandCropByLabelClasses idea), anywhere
  otherwise; prediction runs on whole slices (padded to the network's size multiple).

Deterministic for a seed on the CPU (bit-identical for the same thread count): initial weights
from ``torch.manual_seed(seed)`` (inside ``torch.random.fork_rng``), batches and augmentation from
their own seeded generators.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class SegmenterBudget:
    iterations: int = 200
    batch_size: int = 4
    lr: float = 1e-2
    filters: int = 8  # channels of the first level, doubled per level
    levels: int = 5
    patch_size: int = 128  # training crops (px); the whole slice where it is smaller
    foreground_oversample: float = 0.5
    weight_decay: float = 3e-5
    seed: int = 0
    device: str = "cpu"  # a torch device string; the CPU gives bit-identical results for a seed

    def to_json(self) -> dict:
        return asdict(self)


# The documented budgets (docs/QUALITY.md): on one CPU thread about 0.17 s an iteration at 128 px,
# so a segmenter takes about 40 s and the study's 16 conditions x 3 seeds about half an hour
# (benchmarks/utility_study_budget.py prints it); a larger one for a GPU.
CPU_BUDGET = SegmenterBudget()
GPU_BUDGET = SegmenterBudget(iterations=1000, batch_size=16, filters=32, levels=6, patch_size=256)


def default_budget(device: str) -> SegmenterBudget:
    return GPU_BUDGET if str(device).startswith("cuda") else CPU_BUDGET


def level_count(patch: tuple[int, int], wanted: int) -> int:
    """Levels such that the patch is at least 4 px wide at the bottom and divides evenly."""
    n = max(2, min(wanted, int(math.floor(math.log2(max(min(patch), 8) / 4))) + 1))
    while n > 2 and any(p % 2 ** (n - 1) for p in patch):
        n -= 1
    return n


def patch_shape(budget: SegmenterBudget, slice_shape: tuple[int, int]) -> tuple[int, int]:
    return min(budget.patch_size, int(slice_shape[0])), min(budget.patch_size, int(slice_shape[1]))


def build_segmenter(num_classes: int, budget: SegmenterBudget, patch: tuple[int, int]) -> torch.nn.Module:
    from monai.networks.nets import DynUNet

    n = level_count(patch, budget.levels)
    strides = [1] + [2] * (n - 1)
    filters = [min(budget.filters * 2**i, 16 * budget.filters) for i in range(n)]
    return DynUNet(
        spatial_dims=2,
        in_channels=1,
        out_channels=num_classes,
        kernel_size=[3] * n,
        strides=strides,
        upsample_kernel_size=strides[1:],
        filters=filters,
        norm_name="instance",
        deep_supervision=False,
    )


def parameter_count(num_classes: int, budget: SegmenterBudget, patch: tuple[int, int]) -> int:
    return sum(p.numel() for p in build_segmenter(num_classes, budget, patch).parameters())


class ClassBalancedSampler:
    """Slice indices for batches: a share drawn through a uniformly chosen foreground class."""

    def __init__(self, classes: np.ndarray, num_classes: int, oversample: float) -> None:
        self.classes = np.asarray(classes)
        self.n = len(classes)
        self.oversample = float(oversample)
        flat = self.classes.reshape(self.n, -1)
        self.holding = [np.flatnonzero((flat == c).any(axis=1)) for c in range(num_classes)]
        self.foreground = [c for c in range(1, num_classes) if len(self.holding[c])]

    def draw(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Slice indices and the class each was drawn for (-1: drawn uniformly)."""
        idx = rng.integers(0, self.n, count)
        chosen = np.full(count, -1, np.int64)
        if self.foreground:
            balanced = rng.random(count) < self.oversample
            picks = rng.integers(0, len(self.foreground), count)
            for i in np.flatnonzero(balanced):
                chosen[i] = self.foreground[picks[i]]
                pool = self.holding[chosen[i]]
                idx[i] = pool[rng.integers(0, len(pool))]
        return idx, chosen

    def crops(
        self, rng: np.random.Generator, idx: np.ndarray, chosen: np.ndarray, patch: tuple[int, int]
    ) -> list[tuple[int, int]]:
        """The (y, x) origin of each slice's crop: around a pixel of its chosen class, else anywhere."""
        h, w = self.classes.shape[1:]
        out = []
        for i, c in zip(idx, chosen):
            if c >= 0:
                ys, xs = np.nonzero(self.classes[i] == c)
                k = rng.integers(0, len(ys))
                cy, cx = int(ys[k]), int(xs[k])
            else:
                cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
            out.append(
                (
                    int(np.clip(cy - patch[0] // 2, 0, h - patch[0])),
                    int(np.clip(cx - patch[1] // 2, 0, w - patch[1])),
                )
            )
        return out


def train_segmenter(
    images: np.ndarray,
    classes: np.ndarray,
    num_classes: int,
    budget: SegmenterBudget,
    augment: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
    tick: Callable[[int], None] | None = None,
) -> torch.nn.Module:
    """Train on slices (N, H, W) in [-1, 1] with class maps (N, H, W); ``augment(x, y)`` (if given)
    changes each batch; ``tick(1)`` after every iteration (progress and the stop check)."""
    from monai.losses import DiceCELoss

    if len(images) == 0:
        raise ValueError("train_segmenter: no training slices")
    if num_classes < 2:
        raise ValueError("train_segmenter: the labels hold no foreground class")
    x_all = torch.from_numpy(np.ascontiguousarray(images, np.float32))
    y_all = torch.from_numpy(np.ascontiguousarray(classes, np.int64))
    rng = np.random.default_rng([budget.seed, 17])
    sampler = ClassBalancedSampler(classes, num_classes, budget.foreground_oversample)
    patch = patch_shape(budget, images.shape[1:])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(budget.seed)
        model = build_segmenter(num_classes, budget, patch)
    device = torch.device(budget.device)
    model.to(device)
    loss_fn = DiceCELoss(include_background=False, to_onehot_y=True, softmax=True, batch=True)
    opt = torch.optim.AdamW(model.parameters(), lr=budget.lr, weight_decay=budget.weight_decay)
    schedule = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=budget.iterations, power=0.9)
    model.train()
    for _ in range(budget.iterations):
        idx, chosen = sampler.draw(rng, budget.batch_size)
        origins = sampler.crops(rng, idx, chosen, patch)
        x = torch.stack(
            [x_all[i, y0 : y0 + patch[0], x0 : x0 + patch[1]] for i, (y0, x0) in zip(idx, origins)]
        )[:, None]
        y = torch.stack(
            [y_all[i, y0 : y0 + patch[0], x0 : x0 + patch[1]] for i, (y0, x0) in zip(idx, origins)]
        )
        if augment is not None:
            x, y = augment(x, y)
        loss = loss_fn(model(x.to(device)), y[:, None].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
        if tick is not None:
            tick(1)
    model.eval()
    return model.cpu()


@torch.no_grad()
def predict(model: torch.nn.Module, images: np.ndarray, batch: int = 16, device: str = "cpu") -> np.ndarray:
    """Class maps of whole slices (padded with -1 to the network's size multiple, cropped back)."""
    model = model.to(device).eval()
    multiple = 2 ** (len(model.strides) - 1) if hasattr(model, "strides") else 1
    h, w = images.shape[1:]
    ph, pw = -(-h // multiple) * multiple - h, -(-w // multiple) * multiple - w
    out = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(np.ascontiguousarray(images[i : i + batch], np.float32))[:, None]
        x = torch.nn.functional.pad(x, (0, pw, 0, ph), value=-1.0).to(device)
        out.append(model(x).argmax(dim=1)[:, :h, :w].cpu().numpy().astype(np.uint8))
    model.cpu()
    return np.concatenate(out) if out else np.zeros((0,) + tuple(images.shape[1:]), np.uint8)


def _masks(pred: np.ndarray, truth: np.ndarray, classes: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"dice: prediction {pred.shape} and truth {truth.shape} differ in shape")
    p = torch.from_numpy(np.stack([pred == c for c in classes]))[None].float()
    t = torch.from_numpy(np.stack([truth == c for c in classes]))[None].float()
    return p, t


def dice_per_class(pred: np.ndarray, truth: np.ndarray, classes: list[int]) -> dict[int, float | None]:
    """Dice = 2|P n T| / (|P| + |T|) per class (``monai.metrics.compute_dice``), pooled over all
    pixels of all slices given; None where the class is in neither (undefined, left out of any mean)."""
    from monai.metrics import compute_dice

    if not classes:
        return {}
    p, t = _masks(pred, truth, classes)
    dice = compute_dice(p, t, include_background=True, ignore_empty=False)[0]
    empty = (p.sum(dim=tuple(range(2, p.ndim))) + t.sum(dim=tuple(range(2, t.ndim))))[0] == 0
    return {c: (None if bool(empty[i]) else float(dice[i])) for i, c in enumerate(classes)}


def hd95_per_class(
    pred: np.ndarray, truth: np.ndarray, classes: list[int], spacing: tuple[float, ...]
) -> dict[int, float | None]:
    """The 95th-percentile symmetric Hausdorff distance per class in mm
    (``monai.metrics.compute_hausdorff_distance``) over the array as one volume; None where the
    class is missing from the prediction or the truth (undefined)."""
    import warnings

    from monai.metrics import compute_hausdorff_distance

    out: dict[int, float | None] = dict.fromkeys(classes)
    both = [c for c in classes if (np.asarray(pred) == c).any() and (np.asarray(truth) == c).any()]
    if not both:
        return out
    p, t = _masks(pred, truth, both)
    with warnings.catch_warnings():  # MONAI's deprecation notice of an internal argument
        warnings.simplefilter("ignore", FutureWarning)
        hd = compute_hausdorff_distance(p, t, include_background=True, percentile=95, spacing=list(spacing))
    hd = hd[0]
    for i, c in enumerate(both):
        out[c] = float(hd[i]) if math.isfinite(float(hd[i])) else None
    return out
