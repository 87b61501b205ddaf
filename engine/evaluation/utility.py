"""Utility measures on arrays: train a segmenter on a training set with several seeds, test it on
held-out real slices, and summarise Dice with its 95 % interval.

- :func:`score_condition` trains one condition (the same budget for every condition) with
  ``seeds`` seeds and scores each on the test set: Dice per test case (pooled over that case's
  slices, the mean over the labels its truth holds), Dice per label pooled over all test slices,
  HD95 per label (in mm, per case where its slices are contiguous, the mean over the cases).
- :func:`mean_ci95`: the mean of a (seeds x cases) matrix and a two-way 95 % interval
  (Welch-Satterthwaite over the seed and the case components; with one test case the plain
  Student-t interval over the seeds).
- :func:`tstr_measures`: the report's quick check (one seed: real, synthetic, both), kept for the
  ``tstr`` section when no study is run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from engine.evaluation.segmenter import (
    SegmenterBudget,
    dice_per_class,
    hd95_per_class,
    parameter_count,
    patch_shape,
    predict,
    train_segmenter,
)

RATIO_CAP = 10.0
MIN_REAL_DICE = 0.01


@dataclass
class TestSet:
    images: np.ndarray  # (N, S, S) in [-1, 1]
    classes: np.ndarray  # (N, S, S) class indices
    cases: list[str]  # the case of each slice
    z: np.ndarray  # (N,) the slice index in its case
    spacing: tuple[float, float, float]  # (z, y, x) mm

    __test__ = False  # not a pytest class

    def case_ids(self) -> list[str]:
        return list(dict.fromkeys(self.cases))

    def case_index(self, case: str) -> np.ndarray:
        return np.array([i for i, c in enumerate(self.cases) if c == case], np.int64)


def mean_ci95(values, clip: tuple[float, float] | None = None) -> tuple[float, list[float] | None]:
    """Mean of ``values`` (seeds,) or (seeds, cases) and its 95 % interval; None with one value."""
    v = np.asarray(values, np.float64)
    if v.ndim == 1:
        v = v[:, None]
    mean = float(v.mean())
    s, c = v.shape
    if s * c < 2:
        return mean, None
    a = float(v.mean(axis=1).var(ddof=1)) / s if s > 1 else 0.0
    b = float(v.mean(axis=0).var(ddof=1)) / c if c > 1 else 0.0
    se2 = a + b
    if se2 <= 0.0:
        lo = hi = mean
    else:
        denom = (a * a / (s - 1) if s > 1 else 0.0) + (b * b / (c - 1) if c > 1 else 0.0)
        half = float(stats.t.ppf(0.975, se2 * se2 / denom)) * se2**0.5
        lo, hi = mean - half, mean + half
    if clip is not None:
        lo, hi = max(clip[0], lo), min(clip[1], hi)
    return mean, [lo, hi]


def score_predictions(pred: np.ndarray, test: TestSet, names: dict[int, str]) -> dict:
    """One trained model's scores on the test set."""
    labels = [c for c in names if c != 0 and (test.classes == c).any()]
    per_case, hd_sums = {}, {c: [] for c in labels}
    for case in test.case_ids():
        idx = test.case_index(case)
        p, t = pred[idx], test.classes[idx]
        present = [c for c in labels if (t == c).any()]
        d = dice_per_class(p, t, present)
        per_case[case] = float(np.mean([d[c] for c in present])) if present else 0.0
        if len(idx) > 1 and np.all(np.diff(test.z[idx]) == 1):
            for c, h in hd95_per_class(p, t, present, test.spacing).items():
                if h is not None:
                    hd_sums[c].append(h)
    pooled = dice_per_class(pred, test.classes, labels)
    return {
        "per_case": per_case,
        "per_label": {names[c]: float(pooled[c] or 0.0) for c in labels},
        "hd95": {names[c]: (float(np.mean(hd_sums[c])) if hd_sums[c] else None) for c in labels},
    }


def score_condition(
    train: tuple[np.ndarray, np.ndarray],
    test: TestSet,
    names: dict[int, str],
    budget: SegmenterBudget,
    seeds: list[int],
    augment_factory: Callable[[int], Callable] | None = None,
    tick: Callable[[int], None] | None = None,
    rare: str | None = None,
) -> dict:
    """Train with each seed, test, and summarise: ``dice_mean``, ``dice_ci95``, ``per_seed``,
    ``per_case``, ``per_label{name: dice_mean, dice_ci95, hd95_mm, rare}``, ``dice_matrix``."""
    num_classes = max(names) + 1
    runs = []
    for seed in seeds:
        b = replace(budget, seed=int(seed))
        augment = augment_factory(int(seed)) if augment_factory is not None else None
        model = train_segmenter(train[0], train[1], num_classes, b, augment, tick)
        runs.append(score_predictions(predict(model, test.images, device=b.device), test, names))
        if tick is not None:
            tick(1)
    cases = test.case_ids()
    matrix = np.array([[r["per_case"][c] for c in cases] for r in runs])
    mean, ci = mean_ci95(matrix, clip=(0.0, 1.0))
    per_label = {}
    for name in runs[0]["per_label"]:
        m, lci = mean_ci95([r["per_label"][name] for r in runs], clip=(0.0, 1.0))
        hds = [r["hd95"][name] for r in runs if r["hd95"][name] is not None]
        per_label[name] = {
            "dice_mean": m,
            "dice_ci95": lci,
            "hd95_mm": float(np.mean(hds)) if hds else None,
            "rare": name == rare,
        }
    return {
        "seeds": [int(s) for s in seeds],
        "dice_mean": mean,
        "dice_ci95": ci,
        "per_seed": [float(v) for v in matrix.mean(axis=1)],
        "per_case": [float(v) for v in matrix.mean(axis=0)],  # test cases in order (no names: privacy)
        "per_label": per_label,
        "dice_matrix": matrix.tolist(),
        "train_slices": int(len(train[0])),
    }


def difference(a: dict, b: dict) -> tuple[float, list[float] | None]:
    """Mean Dice of condition ``a`` minus ``b``, paired by seed and test case, with its 95 % interval."""
    return mean_ci95(np.asarray(a["dice_matrix"]) - np.asarray(b["dice_matrix"]))


def tstr_ratio(dice_synthetic: float, dice_real: float) -> float:
    if dice_real < MIN_REAL_DICE:
        return 0.0
    return float(min(RATIO_CAP, dice_synthetic / dice_real))


def single_test_set(images: np.ndarray, classes: np.ndarray) -> TestSet:
    """Test slices taken as one case (no geometry: HD95 in pixels)."""
    return TestSet(images, classes, ["test"] * len(images), np.arange(len(images)), (1.0, 1.0, 1.0))


def tstr_measures(
    real_train: tuple[np.ndarray, np.ndarray],
    synthetic_train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray] | TestSet,
    names: dict[int, str],
    budget: SegmenterBudget = SegmenterBudget(),
    tick: Callable[[int], None] | None = None,
) -> dict:
    """The quick check: three segmenters (real, synthetic, both) with one seed, tested on ``test``."""
    test_set = test if isinstance(test, TestSet) else single_test_set(*test)
    sets = {
        "real": real_train,
        "synthetic": synthetic_train,
        "mixed": (
            np.concatenate([real_train[0], synthetic_train[0]]),
            np.concatenate([real_train[1], synthetic_train[1]]),
        ),
    }
    scored = {
        k: score_condition(v, test_set, names, budget, [budget.seed], tick=tick) for k, v in sets.items()
    }
    means = {k: s["dice_mean"] for k, s in scored.items()}
    per_label = {
        name: {k: scored[k]["per_label"][name]["dice_mean"] for k in sets}
        for name in scored["real"]["per_label"]
    }
    size = tuple(int(v) for v in real_train[0].shape[1:])
    return {
        "dice_real": means["real"],
        "dice_synthetic": means["synthetic"],
        "dice_mixed": means["mixed"],
        "ratio": tstr_ratio(means["synthetic"], means["real"]),
        "gain": float(means["mixed"] - means["real"]),
        "per_label": per_label,
        "train_slices_real": int(len(real_train[0])),
        "train_slices_synthetic": int(len(synthetic_train[0])),
        "test_slices": int(len(test_set.images)),
        "seeds": 1,
        "test_cases": len(test_set.case_ids()),
        "segmenter": segmenter_json(budget, max(names) + 1, size),
    }


def segmenter_json(budget: SegmenterBudget, num_classes: int, slice_shape: tuple[int, int]) -> dict:
    """The segmenter and its budget, as the report records them."""
    patch = patch_shape(budget, slice_shape)
    out = {k: v for k, v in budget.to_json().items() if k not in ("seed", "patch_size")}
    out.update(
        network="MONAI DynUNet (2-D, nnU-Net-like: 3x3 kernels, instance norm, leaky ReLU)",
        loss="MONAI DiceCELoss (foreground Dice, batch-pooled, + cross-entropy)",
        optimizer="AdamW, polynomial learning-rate decay (power 0.9)",
        sampling=f"class-balanced: {budget.foreground_oversample:.0%} of each batch through a uniformly chosen "
        "foreground class",
        patch_size=list(patch),
        slice_shape=[int(v) for v in slice_shape],
        parameters=parameter_count(num_classes, budget, patch),
    )
    return out
