"""Label-map sources and volume generation: deformations keep anatomy plausible, rebalancing adds
the rare label inside its host structure, generation is seeded and lands on the label's grid."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from engine.errors import ConfigError, DataError
from engine.synthesis import GenerateConfig, Synthesizer, generate_volumes
from engine.synthesis.deform import DeformParams, deform_label
from engine.synthesis.rebalance import RebalanceParams, extract_regions, insert_regions
from engine.training.trainer import train
from tests.engine.training_helpers import tiny_config


def _label_volume() -> sitk.Image:
    z, y, x = np.mgrid[0:24, 0:48, 0:48]
    body = ((y - 24) / 20) ** 2 + ((x - 24) / 20) ** 2 < 1
    organ = ((y - 20) / 8) ** 2 + ((x - 28) / 7) ** 2 + ((z - 12) / 8) ** 2 < 1
    lesion = ((y - 20) / 2.5) ** 2 + ((x - 28) / 2.5) ** 2 + ((z - 12) / 2.5) ** 2 < 1
    arr = np.zeros(body.shape, np.uint8)
    arr[body], arr[organ], arr[lesion] = 1, 2, 3
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((1.0, 1.0, 2.0))
    return img


def test_deformation_changes_anatomy_without_tearing():
    label = _label_volume()
    src = sitk.GetArrayFromImage(label)
    out = sitk.GetArrayFromImage(deform_label(label, DeformParams(strength=1.0), np.random.default_rng(0)))
    assert out.dtype == src.dtype and set(np.unique(out)) <= set(np.unique(src))
    assert (out != src).mean() > 0.005, "a deformation must change the anatomy"
    for value in (1, 2):  # each structure stays one piece of about the same size
        n_parts = ndimage.label(out == value)[1]
        assert n_parts == 1, f"label {value} torn into {n_parts} pieces"
        assert 0.7 < (out == value).sum() / (src == value).sum() < 1.4
    again = sitk.GetArrayFromImage(deform_label(label, DeformParams(strength=1.0), np.random.default_rng(0)))
    np.testing.assert_array_equal(out, again)
    same = sitk.GetArrayFromImage(deform_label(label, DeformParams(strength=0.0), np.random.default_rng(0)))
    np.testing.assert_array_equal(same, src)


def test_rebalancing_adds_the_rare_label_inside_its_host():
    arr = sitk.GetArrayFromImage(_label_volume())
    regions = extract_regions(arr, 3, "case", min_voxels=4)
    assert len(regions) == 1 and regions[0].host == 2
    target = arr.copy()
    target[target == 3] = 2  # a map without the lesion
    out, placed = insert_regions(target, regions, RebalanceParams(3, copies=2), np.random.default_rng(1))
    assert placed and (out == 3).sum() > 0
    assert np.all(target[out == 3] == 2), "lesions must be placed inside the host structure"
    with pytest.raises(ConfigError):
        insert_regions(target, [], RebalanceParams(5), np.random.default_rng(0))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synth")
    train(tiny_config(folder / "run", iterations=4))
    return folder / "run"


def test_generation_is_seeded_and_on_the_label_grid(tiny_run, tmp_path):
    synth = Synthesizer(tiny_run, device="cpu")
    label = sitk.ReadImage("resources/demo/labelsTr/icbm152_2009a.nii.gz")
    a = synth.synthesize(label, seed=11)
    b = synth.synthesize(label, seed=11)
    c = synth.synthesize(label, seed=12)
    assert a.GetSize() == label.GetSize() and a.GetSpacing() == label.GetSpacing()
    assert a.GetOrigin() == label.GetOrigin() and a.GetDirection() == label.GetDirection()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b))
    assert not np.array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(c)), "the style seed must matter"
    arr = sitk.GetArrayFromImage(a)
    low, high = synth.normalization.value_range  # the MR map with its bright tail (issue 12)
    assert low - 1e-3 <= arr.min() and arr.max() <= high + 1e-3, "values in the MR range of the training data"
    assert not a.GetMetaDataKeys()


def test_generate_volumes_writes_gallery_items_with_their_source(tiny_run, tmp_path):
    from engine.events import Control, Progress

    events = []
    result = generate_volumes(GenerateConfig(run=tiny_run, count=2, label_source="augment", gallery=tmp_path / "g",
                                             device="cpu"), on_event=events.append)
    assert [i.id for i in result.items] == ["syn_0001", "syn_0002"]
    meta = result.items[0].meta
    assert meta["label_source"]["kind"] == "augment" and "params" in meta["label_source"]
    assert meta["source_case"] == "icbm152_2009a" and len(meta["checkpoint_sha256"]) == 64
    assert any(isinstance(e, Progress) for e in events)
    control = Control()
    control.stop()
    stopped = generate_volumes(GenerateConfig(run=tiny_run, count=2, gallery=tmp_path / "h", device="cpu"), control=control)
    assert stopped.stopped and stopped.items == []
    assert not list((tmp_path / "h").glob(".*partial"))


def test_training_maps_of_a_single_case_run_are_whole(tiny_run):
    from engine.synthesis.label_sources import training_label_maps
    from engine.training.run_folder import TrainingRun

    run = TrainingRun(tiny_run)
    maps = training_label_maps(run)
    start, stop = run.read_split().val_block["icbm152_2009a"]
    arr = sitk.GetArrayFromImage(sitk.DICOMOrient(maps[0].label, "LPS"))
    real = sitk.GetArrayFromImage(sitk.DICOMOrient(sitk.ReadImage("resources/demo/labelsTr/icbm152_2009a.nii.gz"), "LPS"))
    np.testing.assert_array_equal(arr, real)  # no slab cut out of the held-out block
    assert arr[start:stop].max() > 0


def test_bad_generation_settings_and_unknown_labels(tiny_run, tmp_path):
    with pytest.raises(ConfigError, match="rare label"):
        GenerateConfig(run=tiny_run, label_source="rebalance").validate()
    synth = Synthesizer(tiny_run, device="cpu")
    bad = sitk.GetImageFromArray(np.full((4, 8, 8), 9, np.uint8))
    with pytest.raises(DataError, match="not trained on"):
        synth.synthesize(bad, seed=0)


def test_a_label_map_at_the_runs_spacing_is_generated_on_its_own_grid_without_resampling(tiny_run):
    # issue 12: the generator runs over whole slices at the training spacing; a label map at that
    # spacing gets exactly the generator's pixels back (mapped to units), no interpolation
    synth = Synthesizer(tiny_run, device="cpu")
    label = sitk.ReadImage("resources/demo/labelsTr/icbm152_2009a.nii.gz")[:, :, 80:92]
    assert synth.on_training_grid(label)
    image = synth.synthesize(label, seed=3)
    classes, _ = synth.prepare_label(label)
    expected = synth.normalization.inverse(synth.synthesize_classes(classes, seed=3))
    got = sitk.GetArrayFromImage(sitk.DICOMOrient(image, "LPS"))
    np.testing.assert_array_equal(got, expected)
    # a finer label map: generated at the run's spacing, then put onto the label's own grid
    fine = sitk.Resample(label, [2 * n for n in label.GetSize()[:2]] + [label.GetSize()[2]], sitk.Transform(),
                         sitk.sitkNearestNeighbor, label.GetOrigin(),
                         (label.GetSpacing()[0] / 2, label.GetSpacing()[1] / 2, label.GetSpacing()[2]),
                         label.GetDirection(), 0)
    assert not synth.on_training_grid(fine)
    out = synth.synthesize(fine, seed=3)
    assert out.GetSize() == fine.GetSize() and out.GetSpacing() == fine.GetSpacing()
