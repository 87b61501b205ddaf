"""The quality report's measures on arrays with known answers: identical data, noise, hand-made
Dice cases, real data as "synthetic" (the whole report on trained runs: test_evaluation.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.evaluation import (
    dice_per_class,
    diversity_measures,
    fidelity_measures,
    intensity_w1,
    memorization_measures,
    report_problems,
    tstr_measures,
)
from engine.evaluation.diversity import COLLAPSE_MS_SSIM, ms_ssim, ms_ssim_scales
from engine.evaluation.fidelity import PSNR_CAP_DB
from engine.evaluation.schema import clean_json
from engine.evaluation.segmenter import SegmenterBudget

NAMES = {0: "background", 1: "tissue", 2: "core"}


# --------------------------------------------------------------------------- array fixtures


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One thread, as SYNTHVOL_TORCH_THREADS asks: on shared cores, OpenMP threads waiting on each
    other can make the small segmenters ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def brain_like(n: int = 6, size: int = 64, seed: int = 0, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Slices in [-1, 1] with two labelled structures whose size and position change per slice."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    images, labels = [], []
    for i in range(n):
        cy, cx = size / 2 + shift + i % 3, size / 2 - shift + i // 2
        r = ((yy - cy) / (0.30 * size + i)) ** 2 + ((xx - cx) / (0.36 * size - i)) ** 2
        lab = np.where(r < 1, 1, 0) + np.where(
            ((yy - cy - 4) ** 2 + (xx - cx + 3) ** 2) < (5 + i) ** 2, 1, 0
        ) * (r < 1)
        img = np.choose(lab, [-1.0, 0.1, 0.7]) + rng.normal(0, 0.05, (size, size))
        img += 0.1 * np.sin(xx / (3 + i)) * (lab > 0)
        images.append(np.clip(img, -1, 1))
        labels.append(lab)
    return np.array(images, np.float32), np.array(labels, np.uint8)


# --------------------------------------------------------------------------- fidelity and intensity


def test_identical_data_gives_perfect_fidelity():
    real, lab = brain_like()
    f = fidelity_measures(real, real.copy(), lab, NAMES)
    assert f["psnr"] == PSNR_CAP_DB and math.isfinite(f["psnr"])  # inf is capped, never in the JSON
    assert f["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert f["ssim_foreground"] == pytest.approx(1.0, abs=1e-5)
    assert f["mae_units"] == 0.0
    assert all(v == 0.0 for v in f["label_mean_error"].values())
    w1 = intensity_w1(real, real.copy(), lab, NAMES)
    assert set(w1) == {"background", "tissue", "core"}
    assert all(v == pytest.approx(0.0, abs=1e-9) for v in w1.values())


def test_noise_generator_scores_badly_and_a_close_one_well():
    real, lab = brain_like(seed=1)
    rng = np.random.default_rng(5)
    noise = rng.uniform(-1, 1, real.shape).astype(np.float32)
    close = np.clip(real + rng.normal(0, 0.03, real.shape), -1, 1).astype(np.float32)
    bad, good = fidelity_measures(real, noise, lab, NAMES), fidelity_measures(real, close, lab, NAMES)
    assert bad["ssim"] < 0.1 and bad["ssim_foreground"] < 0.2 and bad["psnr"] < 10
    assert good["ssim"] > 0.5 and good["psnr"] > 25
    w1_bad, w1_good = intensity_w1(real, noise, lab, NAMES), intensity_w1(real, close, lab, NAMES)
    assert all(w1_bad[k] > 0.3 for k in NAMES.values())
    assert all(w1_good[k] < 0.05 for k in NAMES.values())


def test_per_label_error_in_units_and_empty_labels_left_out():
    real, lab = brain_like()
    hu_real = (real + 1) * 1000 - 1000
    hu_syn = hu_real + np.where(lab == 2, 50.0, 0.0)  # the core 50 HU too bright
    names = {**NAMES, 3: "absent"}
    f = fidelity_measures(real, real, lab, names, real_units=hu_real, synthetic_units=hu_syn)
    assert f["label_mean_error"]["core"] == pytest.approx(50.0, abs=1e-3)
    assert f["label_mean_error"]["tissue"] == pytest.approx(0.0, abs=1e-3)
    assert "absent" not in f["label_mean_error"] and f["labels_absent"] == ["absent"]
    w1 = intensity_w1(hu_real, hu_syn, lab, names)
    assert w1["core"] == pytest.approx(50.0, abs=1e-2) and "absent" not in w1


# --------------------------------------------------------------------------- diversity


def test_ms_ssim_scales_fit_the_image_size():
    assert ms_ssim_scales(128, 128) == 4
    assert ms_ssim_scales(64, 64) == 3
    assert ms_ssim_scales(256, 256) == 5
    a, _ = brain_like(n=2, size=128)
    assert ms_ssim(a, a)[0] == pytest.approx(1.0, abs=1e-5)


def test_diversity_detects_collapse():
    real, _ = brain_like(n=8, size=128)
    same = [np.repeat(real[i : i + 1], 4, axis=0) for i in range(2)]
    rng = np.random.default_rng(0)
    varied = [
        np.clip(real[i] + rng.normal(0, 0.4, (4, 128, 128)), -1, 1).astype(np.float32) for i in range(2)
    ]
    neighbours = [real[0:4], real[4:8]]
    collapsed, diverse = diversity_measures(same, neighbours), diversity_measures(varied, neighbours)
    assert collapsed["ms_ssim_synthetic"] == pytest.approx(1.0, abs=1e-5) and collapsed["collapsed"]
    assert diverse["ms_ssim_synthetic"] < COLLAPSE_MS_SSIM and not diverse["collapsed"]
    assert 0.0 < diverse["ms_ssim_real"] < 1.0


# --------------------------------------------------------------------------- memorisation


def test_memorization_flags_copies_of_training_slices():
    training, _ = brain_like(n=8, seed=0)
    heldout, _ = brain_like(n=6, seed=1, shift=4)
    m = memorization_measures(training[:6].copy(), training, heldout)
    assert m["flagged"] == 6 and m["nn_ratio"] == pytest.approx(0.0, abs=1e-6)
    pair = m["closest_pairs"][0]
    assert pair["flagged"] and np.array_equal(pair["synthetic_slice"], pair["training_slice"])


def test_memorization_does_not_flag_noise_or_new_anatomy():
    training, _ = brain_like(n=8, seed=0)
    heldout, _ = brain_like(n=6, seed=1, shift=4)
    noise = np.random.default_rng(3).uniform(-1, 1, heldout.shape).astype(np.float32)
    m = memorization_measures(noise, training, heldout)
    assert m["flagged"] == 0 and m["nn_ratio"] > 1.0
    other, _ = brain_like(n=6, seed=2, shift=4)  # new real-like anatomy: about as far as the held-out
    m2 = memorization_measures(other, training, heldout)
    assert m2["flagged"] == 0 and 0.8 < m2["nn_ratio"] < 1.25


# --------------------------------------------------------------------------- utility


def test_dice_against_hand_computed_cases():
    truth = np.array([[0, 1, 1, 0], [0, 1, 1, 0], [2, 2, 0, 0]])
    pred = np.array([[0, 1, 0, 0], [0, 1, 1, 1], [2, 0, 0, 0]])
    d = dice_per_class(pred, truth, [1, 2, 3])
    assert d[1] == pytest.approx(2 * 3 / (4 + 4))  # |P|=4, |T|=4, overlap 3
    assert d[2] == pytest.approx(2 * 1 / (1 + 2))
    assert d[3] is None  # in neither: undefined, never NaN
    assert dice_per_class(truth, truth, [1, 2]) == {1: 1.0, 2: 1.0}
    assert dice_per_class(np.zeros_like(truth), truth, [1])[1] == 0.0


@pytest.fixture(scope="module")
def seg_data():
    train_img, train_lab = brain_like(n=12, size=32, seed=0)
    test_img, test_lab = brain_like(n=6, size=32, seed=1, shift=2)
    return (train_img, train_lab), (test_img, test_lab)


def test_tstr_with_real_data_as_synthetic_equals_trtr(seg_data):
    real, test = seg_data
    settings = SegmenterBudget(iterations=60, batch_size=4, lr=3e-3, seed=3)
    t = tstr_measures(real, (real[0].copy(), real[1].copy()), test, NAMES, settings)
    assert t["dice_real"] > 0.7  # the segmenter learns this easy task
    assert t["dice_synthetic"] == pytest.approx(t["dice_real"], abs=1e-6)
    assert t["ratio"] == pytest.approx(1.0, abs=1e-6)
    assert set(t["per_label"]) == {"tissue", "core"}
    again = tstr_measures(real, real, test, NAMES, settings)
    assert again["dice_real"] == t["dice_real"] and again["dice_mixed"] == t["dice_mixed"]  # deterministic


def test_tstr_with_noise_as_synthetic_scores_low(seg_data):
    real, test = seg_data
    noise = np.random.default_rng(0).uniform(-1, 1, real[0].shape).astype(np.float32)
    t = tstr_measures(
        real, (noise, real[1]), test, NAMES, SegmenterBudget(iterations=60, batch_size=4, lr=3e-3)
    )
    assert t["dice_synthetic"] < t["dice_real"] - 0.2 and t["ratio"] < 0.7


# --------------------------------------------------------------------------- report.json schema


def test_report_checks_catch_nan_and_missing_keys():
    assert clean_json({"a": float("nan"), "b": np.float32(2), "c": np.arange(3)}) == {"a": None, "b": 2.0}
    problems = report_problems({"fidelity": {"psnr": None, "ssim": 1.0}})
    assert any("fidelity.psnr" in p for p in problems) and any("tstr" in p for p in problems)


# --------------------------------------------------------------------------- tiny trained runs
