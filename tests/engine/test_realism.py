"""The realism measures (engine/evaluation/realism.py) on volumes whose answer is known: a blurred
copy is less sharp, a re-noised copy varies as a rescan does, frozen slices do not change through
the plane, bone clipped at 1000 HU misses its 95th percentile."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from engine.evaluation.realism import (
    TARGETS,
    band_power,
    realism_measures,
    realism_slab,
    realism_verdict,
    through_plane_change,
)

NAMES = {0: "background", 1: "soft tissue", 2: "bone", 3: "lung"}


def _phantom(seed: int = 0, z: int = 16, size: int = 96, noise: float = 20.0):
    """A CT-like slab: air, a soft-tissue body with smooth structure, a bone ring, a lung; CT noise."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.mgrid[0:z, 0:size, 0:size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    classes = np.zeros((z, size, size), np.uint8)
    classes[r < 40] = 1
    classes[(r >= 34) & (r < 40)] = 2
    classes[np.hypot(yy - 40, xx - 55) < 12] = 3
    base = np.select([classes == 1, classes == 2, classes == 3], [30.0, 900.0, -850.0], -1000.0)
    base = base + np.where(classes == 1, 15 * np.sin(xx / 5.0 + zz / 8.0), 0.0)
    base = base + np.where(classes == 2, 400 * np.cos(yy / 3.0), 0.0)
    return (base + rng.normal(0, noise, base.shape)).astype(np.float32), classes


def test_a_copy_of_the_real_scan_meets_every_target_but_seed_diversity():
    real, classes = _phantom(0)
    rescan, _ = _phantom(1)  # the same anatomy, new noise: what a second scan gives
    m = realism_measures(real, rescan, _phantom(2)[0], classes, NAMES, "CT")
    assert m["groups"] == {"soft tissue": ["soft tissue"], "bone": ["bone"], "lung": ["lung"]}
    for name, check in m["checks"].items():
        assert check["met"], (name, check)
    assert m["seed_diversity"]["mean_abs_difference"] == pytest.approx(20 * np.sqrt(2) * np.sqrt(2 / np.pi), rel=0.05)
    # the reference read from the real scan's fine texture alone predicts what the rescan differs by
    assert m["seed_diversity"]["rescan_reference"] == pytest.approx(m["seed_diversity"]["mean_abs_difference"], rel=0.1)
    assert m["through_plane"]["ratio"] == pytest.approx(1.0, abs=0.05)
    assert realism_verdict(m)["status"] == "good"
    assert set(m["checks"]) == set(TARGETS)


def test_a_blurred_clipped_noise_free_scan_fails_where_it_should():
    real, classes = _phantom(0)
    smooth = ndimage.gaussian_filter(np.clip(real, -1024, 1000), sigma=(0, 1.0, 1.0))  # as up-sampled from 2x coarser pixels
    m = realism_measures(real, smooth, smooth.copy(), classes, NAMES, "CT")
    c = m["checks"]
    assert not c["gradient_soft_tissue"]["met"] and not c["gradient_lung"]["met"]
    assert c["spectral_0.25-0.5"]["value"] < 0.1 and c["spectral_0.0625-0.25"]["value"] < 0.8
    assert not c["texture_soft_tissue"]["met"]
    assert not c["bone_p95"]["met"] and m["bone_p95"]["synthetic"] <= 1000
    assert c["seed_diversity"]["value"] == 0.0 and not c["seed_diversity"]["met"]
    assert realism_verdict(m)["status"] == "poor"


def test_through_plane_change_sees_frozen_and_flickering_slices():
    real, classes = _phantom(0)
    frozen = np.repeat(real[:1], len(real), axis=0)
    assert through_plane_change(frozen, classes) == 0.0
    flicker = real + np.where(np.arange(len(real))[:, None, None] % 2 == 0, 60.0, -60.0).astype(np.float32)
    m = realism_measures(real, flicker, None, classes, NAMES, "CT")
    assert not m["checks"]["through_plane"]["met"] and m["through_plane_smooth"]["ratio"] > 2
    assert "seed_diversity" not in m["checks"]


def test_band_power_of_a_pure_frequency_lands_in_its_band():
    x = np.arange(64)
    fine = np.tile(np.cos(2 * np.pi * 0.375 * x), (64, 1))[None].astype(np.float32)
    coarse = np.tile(np.cos(2 * np.pi * 0.125 * x), (64, 1))[None].astype(np.float32)
    pf, pc = band_power(fine), band_power(coarse)
    assert pf["0.25-0.5"] > 100 * pf["0.0625-0.25"]
    assert pc["0.0625-0.25"] > 100 * pc["0.25-0.5"]


def test_per_plane_fidelity_and_the_slab():
    real, classes = _phantom(0, z=12)
    norm = np.clip(real / 1000.0, -1, 1)
    m = realism_measures(real, real, None, classes, NAMES, "CT", norm, norm)
    assert {p: round(v["ssim"], 6) for p, v in m["per_plane"].items()} == {"axial": 1.0, "coronal": 1.0, "sagittal": 1.0}
    short = realism_measures(real[:6], real[:6], None, classes[:6], NAMES, "CT", norm[:6], norm[:6])
    assert "skipped" in short["per_plane"]["coronal"] and "ssim" in short["per_plane"]["axial"]
    rows = np.array([(0, 3), (0, 4), (0, 5), (1, 0), (1, 1), (1, 2), (1, 3), (0, 9)])
    np.testing.assert_array_equal(realism_slab(rows), [(1, 0), (1, 1), (1, 2), (1, 3)])
    assert len(realism_slab(np.array([(0, z) for z in range(100)]), 48)) == 48
    with pytest.raises(ValueError, match="differ"):
        realism_measures(real, real[:4], None, classes, NAMES, "CT")


def test_mr_has_no_hu_targets():
    real, classes = _phantom(0)
    mr = (real + 1024) / 4  # positive, arbitrary units
    m = realism_measures(mr, mr, mr, classes, NAMES, "MR")
    assert m["groups"]["bone"] == [] and sorted(m["groups"]["soft tissue"]) == ["bone", "lung", "soft tissue"]
    assert "max_median_error" not in m["checks"] and "seed_diversity" not in m["checks"]
