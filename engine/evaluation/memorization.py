"""Memorisation (privacy): is a synthetic slice a copy of a training slice?

Distance: slices in the normalised space [-1, 1] are average-pooled to about ``POOLED_SIDE`` px
(by 4 at 128 px, by 2 at 64 px: keeps anatomy, drops pixel noise) and compared by the
root-mean-square difference of the pooled pixels, ``d(a, b) = ||pool(a) - pool(b)||_2 / sqrt(D)`` (same units as the normalised
intensities: 0 = identical, 2 = black against white). Nearest neighbours come from ``torch.cdist``
in batches.

- ``nn_synthetic``: for each synthetic slice, the distance to its nearest training slice.
- ``nn_real``: the same for each held-out real slice (real anatomy the model never saw).
- ``nn_ratio = median(nn_synthetic) / median(nn_real)``: about 1 or more when synthetic slices are
  no closer to the training data than new real data is; well below 1 when they are pulled towards
  training images.
- ``threshold = FLAG_FACTOR * min(nn_real)``: no held-out real slice was ever closer to a training
  slice than ``min(nn_real)``; a synthetic slice closer than half of that (or an exact copy,
  distance <= ``COPY_DISTANCE``) is *flagged*. The margin keeps chance out: were synthetic and
  real distances drawn from the same distribution, the smallest of N synthetic distances would
  fall below the smallest of N real ones half the time.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

POOLED_SIDE = 32
FLAG_FACTOR = 0.5
COPY_DISTANCE = 1e-6
RATIO_CAP = 1000.0
CAUTION_RATIO = 0.8


def pool_factor(height: int, width: int) -> int:
    return max(1, min(height, width) // POOLED_SIDE)


def slice_features(slices: np.ndarray, pool: int | None = None) -> np.ndarray:
    """(N, H, W) normalised slices -> (N, D) float32 pooled pixels, scaled so the L2 distance of
    two rows is the RMS difference of the pooled slices. ``pool`` defaults to ``pool_factor``."""
    if pool is None:
        pool = pool_factor(*np.asarray(slices).shape[-2:])
    x = torch.from_numpy(np.ascontiguousarray(slices, np.float32))[:, None]
    if pool > 1 and min(x.shape[-2:]) >= pool:
        x = F.avg_pool2d(x, pool)
    flat = x.flatten(1)
    return (flat / np.sqrt(max(1, flat.shape[1]))).numpy().astype(np.float32)


def nearest(queries: np.ndarray, reference: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """For each query row, the distance to and index of its nearest reference row."""
    if len(reference) == 0:
        raise ValueError("nearest: the reference set is empty")
    ref = torch.from_numpy(np.ascontiguousarray(reference, np.float32))
    dist, idx = [], []
    for i in range(0, len(queries), batch):
        q = torch.from_numpy(np.ascontiguousarray(queries[i : i + batch], np.float32))
        best_d = torch.full((len(q),), float("inf"))
        best_i = torch.zeros(len(q), dtype=torch.long)
        for j in range(0, len(ref), 4096):
            d = torch.cdist(q.double(), ref[j : j + 4096].double()).float()
            m, a = d.min(dim=1)
            better = m < best_d
            best_d = torch.where(better, m, best_d)
            best_i = torch.where(better, a + j, best_i)
        dist.append(best_d.numpy())
        idx.append(best_i.numpy())
    if not dist:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    return np.concatenate(dist).astype(np.float64), np.concatenate(idx).astype(np.int64)


def memorization_from_features(
    synthetic: np.ndarray, training: np.ndarray, heldout: np.ndarray, closest: int = 4
) -> dict:
    """The measures from pooled features (``slice_features``) of the three sets.
    ``closest_pairs`` lists the synthetic slices nearest to a training slice (indices into the
    synthetic and training sets), closest first."""
    if len(training) == 0 or len(heldout) == 0 or len(synthetic) == 0:
        raise ValueError("memorisation needs synthetic, training and held-out slices")
    d_syn, i_syn = nearest(synthetic, training)
    d_real, i_real = nearest(heldout, training)
    med_syn, med_real = float(np.median(d_syn)), float(np.median(d_real))
    if med_real > COPY_DISTANCE:
        ratio = min(RATIO_CAP, med_syn / med_real)
    else:  # held-out slices are copies of training slices themselves: no yardstick
        ratio = RATIO_CAP if med_syn > COPY_DISTANCE else 1.0
    threshold = FLAG_FACTOR * float(d_real.min())
    flagged_mask = (d_syn < threshold) | (d_syn <= COPY_DISTANCE)
    order = np.argsort(d_syn, kind="stable")[: max(0, closest)]
    return {
        "nn_ratio": float(ratio),
        "flagged": int(flagged_mask.sum()),
        "flagged_fraction": float(flagged_mask.mean()),
        "flagged_indices": [int(i) for i in np.flatnonzero(flagged_mask)],
        "threshold": threshold,
        "min_nn_real": float(d_real.min()),
        "median_nn_synthetic": med_syn,
        "median_nn_real": med_real,
        "min_nn_synthetic": float(d_syn.min()),
        "synthetic_slices": int(len(synthetic)),
        "heldout_slices": int(len(heldout)),
        "training_slices": int(len(training)),
        "closest_pairs": [
            {
                "synthetic_index": int(s),
                "training_index": int(i_syn[s]),
                "distance": float(d_syn[s]),
                "flagged": bool(flagged_mask[s]),
            }
            for s in order
        ],
        "nn_synthetic": d_syn,
        "nn_real": d_real,
        "nn_real_index": i_real,
    }


def memorization_measures(
    synthetic: np.ndarray,
    training: np.ndarray,
    heldout: np.ndarray,
    closest: int = 4,
    pool: int | None = None,
) -> dict:
    """The measures straight from slices (N, H, W) in the normalised space; the closest pairs carry
    their two slices (``synthetic_slice``, ``training_slice``) for display."""
    result = memorization_from_features(
        slice_features(synthetic, pool),
        slice_features(training, pool),
        slice_features(heldout, pool),
        closest,
    )
    for pair in result["closest_pairs"]:
        pair["synthetic_slice"] = np.asarray(synthetic[pair["synthetic_index"]], np.float32)
        pair["training_slice"] = np.asarray(training[pair["training_index"]], np.float32)
    return result
