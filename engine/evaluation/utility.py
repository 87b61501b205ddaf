"""Utility: train on synthetic, test on real (TSTR) against train on real, test on real (TRTR).

Three :class:`~engine.evaluation.segmenter.SmallUNet` segmenters with the same budget (iterations,
batch size, learning rate) and seed: (a) on the real training slices, (b) on synthetic slices
generated from the same training label maps, (c) on both. Each is tested on the held-out real
slices: Dice per foreground label (pooled over the test slices) and the mean over the labels the
held-out truth holds.

- ``ratio = dice_synthetic / dice_real`` (TSTR / TRTR; capped at ``RATIO_CAP``; 0 when the
  real-data segmenter itself fails, Dice < ``MIN_REAL_DICE``);
- ``gain = dice_mixed - dice_real``.

Training is deterministic for a seed (bit-identical on the CPU; on a GPU up to cuDNN's own
nondeterminism): the initial weights come from ``torch.manual_seed(seed)``
(inside ``torch.random.fork_rng``), the batches and flips from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.evaluation.segmenter import SmallUNet, dice_per_class, soft_dice_loss

RATIO_CAP = 10.0
MIN_REAL_DICE = 0.01


@dataclass(frozen=True)
class SegmenterSettings:
    iterations: int = 250
    batch_size: int = 8
    lr: float = 3e-3
    channels: int = 8
    seed: int = 0
    flip: bool = True
    device: str = "cpu"  # a torch device string; the CPU gives bit-identical results for a seed


def train_segmenter(
    images: np.ndarray,
    classes: np.ndarray,
    num_classes: int,
    settings: SegmenterSettings,
    tick: Callable[[int], None] | None = None,
) -> SmallUNet:
    """Train on slices (N, H, W) in [-1, 1] with class maps (N, H, W); ``tick(1)`` per iteration."""
    if len(images) == 0:
        raise ValueError("train_segmenter: no training slices")
    x_all = torch.from_numpy(np.ascontiguousarray(images, np.float32))
    y_all = torch.from_numpy(np.ascontiguousarray(classes, np.int64))
    rng = np.random.default_rng(settings.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        model = SmallUNet(num_classes, settings.channels)
    device = torch.device(settings.device)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    model.train()
    for _ in range(settings.iterations):
        idx = torch.from_numpy(rng.integers(0, len(images), settings.batch_size))
        flips = rng.random(settings.batch_size) < 0.5
        x, y = x_all[idx][:, None].to(device), y_all[idx].to(device)
        if settings.flip and flips.any():
            f = torch.from_numpy(flips).to(device)
            x = torch.where(f.view(-1, 1, 1, 1), x.flip(-1), x)
            y = torch.where(f.view(-1, 1, 1), y.flip(-1), y)
        logits = model(x)
        loss = F.cross_entropy(logits, y) + soft_dice_loss(logits, y, num_classes)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if tick is not None:
            tick(1)
    model.eval()
    return model.cpu()


@torch.no_grad()
def predict(model: SmallUNet, images: np.ndarray, batch: int = 16, device: str = "cpu") -> np.ndarray:
    model = model.to(device)
    out = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(np.ascontiguousarray(images[i : i + batch], np.float32))[:, None].to(device)
        out.append(model(x).argmax(dim=1).cpu().numpy().astype(np.uint8))
    return np.concatenate(out) if out else np.zeros((0,) + tuple(images.shape[1:]), np.uint8)


def dice_scores(pred: np.ndarray, truth: np.ndarray, names: dict[int, str]) -> tuple[dict[str, float], float]:
    """Dice per foreground label present in the truth, by name, and their mean (0 if none)."""
    present = [c for c in names if c != 0 and (truth == c).any()]
    per = dice_per_class(pred, truth, present)
    scores = {names[c]: float(per[c]) for c in present if per[c] is not None}
    return scores, (float(np.mean(list(scores.values()))) if scores else 0.0)


def tstr_ratio(dice_synthetic: float, dice_real: float) -> float:
    if dice_real < MIN_REAL_DICE:
        return 0.0
    return float(min(RATIO_CAP, dice_synthetic / dice_real))


def tstr_measures(
    real_train: tuple[np.ndarray, np.ndarray],
    synthetic_train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    names: dict[int, str],
    settings: SegmenterSettings = SegmenterSettings(),
    tick: Callable[[int], None] | None = None,
    keep_predictions: int = 0,
) -> dict:
    """Train the three segmenters and test them on ``test`` (images, classes)."""
    num_classes = max(names) + 1
    sets = {
        "real": real_train,
        "synthetic": synthetic_train,
        "mixed": (
            np.concatenate([real_train[0], synthetic_train[0]]),
            np.concatenate([real_train[1], synthetic_train[1]]),
        ),
    }
    scores, means, preds = {}, {}, {}
    for key, (imgs, labs) in sets.items():
        model = train_segmenter(imgs, labs, num_classes, settings, tick)
        pred = predict(model, test[0], device=settings.device)
        scores[key], means[key] = dice_scores(pred, test[1], names)
        preds[key] = pred[:keep_predictions]
    per_label = {name: {k: scores[k].get(name, 0.0) for k in sets} for name in scores["real"]}
    result = {
        "dice_real": means["real"],
        "dice_synthetic": means["synthetic"],
        "dice_mixed": means["mixed"],
        "ratio": tstr_ratio(means["synthetic"], means["real"]),
        "gain": float(means["mixed"] - means["real"]),
        "per_label": per_label,
        "train_slices_real": int(len(real_train[0])),
        "train_slices_synthetic": int(len(synthetic_train[0])),
        "test_slices": int(len(test[0])),
        "segmenter": {
            "iterations": settings.iterations,
            "batch_size": settings.batch_size,
            "lr": settings.lr,
            "channels": settings.channels,
            "seed": settings.seed,
            "parameters": sum(p.numel() for p in SmallUNet(num_classes, settings.channels).parameters()),
        },
    }
    if keep_predictions:
        result["predictions"] = preds
    return result
