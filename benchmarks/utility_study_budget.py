"""How long the utility study's segmenter budget takes here: seconds per training iteration with
and without augmentation, and the projected time of a whole study.

    python benchmarks/utility_study_budget.py [--device cpu] [--threads 1] [--size 128] [--iterations 20]

The study trains (3 + sources x ratios + 1) conditions x seeds segmenters; with the defaults (3
sources, 4 ratios, 3 seeds) that is 48 segmenters of ``iterations`` steps each, plus generation.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from engine.evaluation.segmenter import default_budget, train_segmenter
from engine.synthesis.augmentation import AugmentParams, SliceAugmenter


def seconds_per_iteration(budget, images, classes, augment: bool, iterations: int) -> float:
    b = dataclasses.replace(budget, iterations=iterations)
    aug = SliceAugmenter(AugmentParams(), 0) if augment else None
    train_segmenter(images, classes, 5, dataclasses.replace(b, iterations=2), aug)  # warm-up
    t = time.perf_counter()
    train_segmenter(images, classes, 5, b, aug)
    return (time.perf_counter() - t) / iterations


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--conditions", type=int, default=16)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 5, (32, args.size, args.size)).astype(np.uint8)
    images = (classes / 2.0 - 1.0 + rng.normal(0, 0.1, classes.shape)).astype(np.float32)
    budget = dataclasses.replace(default_budget(args.device), device=args.device)
    plain = seconds_per_iteration(budget, images, classes, False, args.iterations)
    augmented = seconds_per_iteration(budget, images, classes, True, args.iterations)
    n_aug = 2 * args.seeds  # real+augmentation and real+synthetic+augmentation
    n_plain = (args.conditions - 2) * args.seeds
    total = budget.iterations * (n_plain * plain + n_aug * augmented)
    print(
        f"budget: {budget.iterations} iterations x batch {budget.batch_size}, {args.size} px, "
        f"{args.threads} thread(s) on {args.device}"
    )
    print(f"seconds per iteration: {plain:.3f} plain, {augmented:.3f} with augmentation")
    print(
        f"one segmenter: {budget.iterations * plain:.0f} s; study of {args.conditions} conditions x "
        f"{args.seeds} seeds: {total / 60:.1f} min of training (generation and tests extra)"
    )


if __name__ == "__main__":
    main()
