"""2-D training samples from the cache (SliceDataset), the class-balanced SliceSampler and the
train/validation split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from engine.data import discover
from engine.data.cache import PreprocessParams, prepare_cases
from engine.data.slices import IterationBatches, SliceDataset, SliceSampler, sampling_weights, slice_table
from engine.data.split import make_split, training_slices, validation_slices
from tests.engine.data_factory import write_volume

Z, H, W = 40, 20, 16
RARE_SLICES = (17, 18)


def _volume_with_rare_label() -> tuple[np.ndarray, np.ndarray]:
    """Class 1 in every slice; class 2 (rare) only in slices 17-18; slice z has z label-1 voxels in row 0
    so every slice is recognisable from its label alone."""
    image = np.full((Z, H, W), -1000, np.int16)
    image[:, 4:16, 4:12] = 50
    label = np.zeros((Z, H, W), np.uint8)
    label[:, 4:16, 4:12] = 1
    for z in range(Z):
        label[z, 0, :] = 0
        label[z, 0, : z % W] = 1
        label[z, 1, 0] = 1 if z >= W else 0
    for z in RARE_SLICES:
        label[z, 8:12, 6:10] = 2
    image[label == 2] = 300
    return image, label


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("slices")
    image, label = _volume_with_rare_label()
    write_volume(root / "data" / "one.nii.gz", image, spacing=(1.0, 1.0, 2.0))
    write_volume(root / "data" / "one_seg.nii.gz", label, spacing=(1.0, 1.0, 2.0))
    result = discover(root / "data")
    prep = prepare_cases(
        result.cases, result.label_table, PreprocessParams(in_plane_spacing=1.0), cache_dir=root / "cache"
    )
    return prep, label


def test_sample_shapes_context_order_and_values(prepared):
    prep, label = prepared
    k, size, classes = 2, 24, prep.label_table.num_classes
    ds = SliceDataset(
        prep.volumes, slice_table(prep.volumes, {"one": np.arange(Z)}), size, k, classes, augment=False
    )
    assert len(ds) == Z
    z = 20
    sample = ds[z]
    assert sample["label"].shape == (classes * (2 * k + 1), size, size)
    assert sample["image"].shape == (1, size, size)
    assert sample["label"].dtype == torch.float32 and sample["image"].dtype == torch.float32
    blocks = sample["label"].numpy().reshape(2 * k + 1, classes, size, size)
    assert np.all(blocks.sum(axis=1) == 1.0)  # one-hot
    py, px = (size - H) // 2, (size - W) // 2
    # slice-major from z-k to z+k, the layout of engine.models.context (centre block at k)
    for block, zz in zip(blocks, range(z - k, z + k + 1), strict=True):
        decoded = block.argmax(axis=0)[py : py + H, px : px + W]
        np.testing.assert_array_equal(decoded, label[zz])
    img = sample["image"].numpy()[0]
    assert img[0, 0] == -1.0  # padding is air
    # 50 HU on the CT map's soft-tissue segment (-200..300 HU -> -0.4..0.4; issue 12)
    assert img[py + 6, px + 6] == pytest.approx(-0.4 + 0.8 * (50 + 200) / 500, abs=1e-3)
    # at the first slice the context repeats the edge slice
    edge = ds[0]["label"].numpy().reshape(2 * k + 1, classes, size, size).argmax(axis=1)
    np.testing.assert_array_equal(edge[0], edge[k])
    np.testing.assert_array_equal(edge[1], edge[k])


def test_crop_is_random_but_a_pure_function_of_the_seed(prepared):
    prep, _ = prepared
    ds = SliceDataset(prep.volumes, slice_table(prep.volumes, {"one": np.arange(Z)}), 8, 1, 3, augment=True)
    a, b = ds[(5, 1234)], ds[(5, 1234)]
    assert a["label"].shape == (9, 8, 8) and a["image"].shape == (1, 8, 8)
    assert torch.equal(a["label"], b["label"]) and torch.equal(a["image"], b["image"])
    crops = {ds[(5, seed)]["image"].numpy().tobytes() for seed in range(40)}
    assert len(crops) > 5  # different seeds crop (and flip) differently


def test_sampler_is_a_pure_function_of_seed_iteration_and_rank():
    weights = np.full(100, 0.01)
    s1, s2 = SliceSampler(weights, seed=7), SliceSampler(weights, seed=7)
    assert s1.batch(3, 16, rank=0) == s2.batch(3, 16, rank=0)
    assert s1.batch(3, 16, rank=0) != s1.batch(3, 16, rank=1)
    assert s1.batch(3, 16) != s1.batch(4, 16)
    assert s1.batch(3, 16) != SliceSampler(weights, seed=8).batch(3, 16)
    assert all(0 <= i < 100 for i, _ in s1.batch(0, 256))


def _rare_fraction(prep, class_balance: float, draws: int = 60) -> float:
    slices = slice_table(prep.volumes, {"one": np.arange(Z)})
    ds = SliceDataset(prep.volumes, slices, 24, 0, prep.label_table.num_classes, augment=True)
    sampler = SliceSampler(sampling_weights(prep.volumes, slices, class_balance), seed=0)
    loader = DataLoader(ds, batch_sampler=IterationBatches(sampler, 16, 0, draws), num_workers=0)
    rare = total = 0
    for batch in loader:
        centre = batch["label"]  # context 0: the centre slice only
        rare += int((centre[:, 2].flatten(1).amax(dim=1) > 0).sum())
        total += centre.shape[0]
    return rare / total


def test_class_balance_oversamples_the_rare_label(prepared):
    prep, _ = prepared
    share = len(RARE_SLICES) / Z  # 5 % of the slices hold the rare class
    uniform = _rare_fraction(prep, 0.0)
    balanced = _rare_fraction(prep, 1.0)
    assert uniform < 2.5 * share
    assert balanced > 0.4  # about half of the draws
    assert balanced > 6 * uniform


def test_sampling_weights_favour_foreground_slices(prepared):
    prep, _ = prepared
    slices = slice_table(prep.volumes, {"one": np.arange(Z)})
    w = sampling_weights(prep.volumes, slices, 0.0)
    assert w.shape == (Z,) and w.sum() == pytest.approx(1.0)
    assert np.allclose(w, 1.0 / Z)  # every slice holds foreground here
    w1 = sampling_weights(prep.volumes, slices, 1.0)
    assert w1[list(RARE_SLICES)].sum() == pytest.approx(0.525, abs=1e-6)


def test_split_by_patient_without_overlap():
    ids = [f"case_{i:02d}" for i in range(10)]
    split = make_split(ids, {}, val_fraction=0.2, seed=3)
    assert split.mode == "cases"
    assert len(split.val_cases) == 2
    assert not set(split.train_cases) & set(split.val_cases)
    assert sorted(split.train_cases + split.val_cases) == ids
    assert make_split(ids, {}, seed=3).val_cases == split.val_cases  # reproducible
    assert make_split(["a", "b"], {}).mode == "cases"
    assert len(make_split(["a", "b"], {}).train_cases) == 1


def test_one_case_holds_out_a_block_of_slices_with_a_context_gap():
    fg = np.zeros(60, bool)
    fg[10:50] = True
    context = 2
    split = make_split(["only"], {"only": fg}, val_fraction=0.2, context=context)
    assert split.mode == "slice_block"
    start, stop = split.val_block["only"]
    assert 10 <= start < stop <= 50 and stop - start == 8
    train = training_slices(split, {"only": 60}, context)["only"]
    val = validation_slices(split, {"only": 60})["only"]
    np.testing.assert_array_equal(val, np.arange(start, stop))
    # no training sample's label context (z-k..z+k) reaches a validation slice
    reach = {int(z) + d for z in train for d in range(-context, context + 1)}
    assert not reach & set(val.tolist())
    assert len(train) == 60 - (stop - start) - 2 * context
    assert type(split).from_json(split.to_json()) == split
