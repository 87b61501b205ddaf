"""The data layer reads what the user meant (issue 10 §3): exact file names pair images with labels,
every file in images/ becomes a case, single DICOM files are named by their file, 2-D images are
one-slice volumes, a label covering part of its image leaves the rest out of training, and
SynthVol's own exports read back as cases (every format). Real files: pydicom's test data,
SimpleITK- and nibabel-written volumes, the real head CT of resources/fetch_real_data.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file

from engine.data import discover
from engine.data.cache import PreprocessParams, prepare_cases
from engine.data.labels import LabelTable
from engine.data.loading import load_case
from engine.export import ExportConfig, export_dataset
from tests.engine.data_factory import by_id, phantom, phantom_label, write_nifti_raw, write_volume
from tests.engine.export_helpers import case as export_case
from tests.engine.export_helpers import table as export_table

REPO = Path(__file__).resolve().parents[2]
SHAPE = (6, 20, 16)


def _ct_small_label(path: Path, dicom: Path, value: int = 1) -> None:
    """A one-slice label map on the grid of a single DICOM slice (as SimpleITK reads it)."""
    ref = sitk.ReadImage(str(dicom))
    arr = np.zeros(sitk.GetArrayViewFromImage(ref).shape, np.uint8)
    arr[:, 30:90, 30:90] = value
    label = sitk.GetImageFromArray(arr)
    label.CopyInformation(ref)
    sitk.WriteImage(label, str(path))


@pytest.fixture
def paired(tmp_path) -> Path:
    root = tmp_path / "paired"
    for name in ("case1", "no_label", "float_label", "head_ct", "case_002_image", "case_003_0000"):
        write_volume(root / "images" / f"{name}.nii.gz", phantom(SHAPE, seed=len(name)))
    for name in ("case1", "float_label", "head_ct", "case_002_label", "case_003"):
        write_volume(root / "labels" / f"{name}.nii.gz", phantom_label(SHAPE))
    shutil.copyfile(get_testdata_file("CT_small.dcm"), root / "images" / "ct_small.dcm")
    _ct_small_label(root / "labels" / "ct_small.nii.gz", root / "images" / "ct_small.dcm")
    write_volume(root / "labels" / "orphan.nii.gz", phantom_label(SHAPE))
    return root


def test_paired_folders_match_exact_stems_first_and_lose_no_image(paired):
    result = discover(paired)
    cases = by_id(result)
    images = sorted(p.name for p in (paired / "images").iterdir())
    assert sorted(c.image.name for c in result.cases if c.image.parent.name == "images") == images
    assert cases["head_ct"].label.name == "head_ct.nii.gz"  # not case "head"
    assert cases["float_label"].label.name == "float_label.nii.gz"  # not case "float"
    assert cases["no_label"].ok and cases["no_label"].label is None  # listed, unlabeled
    assert any("no label file" in w for w in cases["no_label"].warnings)
    assert cases["ct_small"].label.name == "ct_small.nii.gz" and cases["ct_small"].usable
    assert cases["case_002"].label.name == "case_002_label.nii.gz"  # naming rules as a fallback
    assert cases["case_003"].label.name == "case_003.nii.gz"
    assert not cases["orphan"].ok and "without an image" in cases["orphan"].error
    assert sorted(c.id for c in result.usable_cases) == [
        "case1",
        "case_002",
        "case_003",
        "ct_small",
        "float_label",
        "head_ct",
    ]


def test_real_head_ct_scans_as_case_head_ct():
    subprocess.run(
        [sys.executable, "resources/fetch_real_data.py"], cwd=REPO, check=True, capture_output=True
    )
    result = discover(REPO / "data" / "real" / "head_ct", verify=False)
    assert [(c.id, c.label.name) for c in result.cases] == [("head_ct", "head_ct.nii.gz")]


def test_single_dicom_files_in_images_are_cases_named_by_their_file(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    shutil.copyfile(get_testdata_file("CT_small.dcm"), root / "images" / "ct_small.dcm")
    shutil.copyfile(get_testdata_file("MR_small.dcm"), root / "images" / "mr_small.dcm")
    shutil.copyfile(get_testdata_file("emri_small.dcm"), root / "images" / "enhanced_mr.dcm")
    result = discover(root)
    assert sorted(c.id for c in result.cases) == [
        "ct_small",
        "enhanced_mr",
        "mr_small",
    ]  # not images, images_2
    assert all(c.ok for c in result.cases), [c.error for c in result.cases]


@pytest.mark.parametrize("kind", ["dicom slice", "2-D nifti", "one-slice nifti", "2-D nrrd"])
def test_2d_images_are_one_slice_volumes_that_scan_ok(tmp_path, kind):
    root = tmp_path / "ds"
    root.mkdir()
    if kind == "dicom slice":
        image = shutil.copyfile(get_testdata_file("CT_small.dcm"), root / "slice.dcm")
        _ct_small_label(root / "slice_seg.nii.gz", image)
    else:
        img2d = phantom((1, 24, 20))[0]
        lab2d = phantom_label((1, 24, 20))[0]
        ext = ".nrrd" if kind == "2-D nrrd" else ".nii.gz"
        if kind == "one-slice nifti":
            write_nifti_raw(root / "slice.nii.gz", img2d.T[:, :, None].copy())
            write_nifti_raw(root / "slice_seg.nii.gz", lab2d.T[:, :, None].copy())
        else:
            write_volume(root / f"slice{ext}", img2d, spacing=(0.8, 0.9))
            write_volume(root / f"slice_seg{ext}", lab2d, spacing=(0.8, 0.9))
    (case,) = discover(root).cases
    assert case.usable, case.error
    assert case.geometry.size[2] == 1
    loaded = load_case(case)
    assert loaded.image.GetDimension() == 3 and loaded.image.GetSize()[2] == 1
    assert loaded.label.GetSize() == loaded.image.GetSize()
    assert set(np.unique(sitk.GetArrayViewFromImage(loaded.label))) >= {0, 1}


def test_a_folder_of_2d_slices_with_label_maps_trains(tmp_path):
    from engine.training.trainer import train
    from tests.engine.training_helpers import tiny_config

    root = tmp_path / "slices"
    for i in range(4):
        write_volume(
            root / "images" / f"slice_{i}.nii.gz", phantom((1, 40, 36), seed=i)[0], spacing=(1.0, 1.0)
        )
        write_volume(root / "labels" / f"slice_{i}.nii.gz", phantom_label((1, 40, 36))[0], spacing=(1.0, 1.0))
    scan = discover(root)
    assert len(scan.usable_cases) == 4
    result = train(tiny_config(tmp_path / "run", data=root, iterations=2, val_every=2, preview_every=2))
    assert result.iteration == 2 and result.checkpoint is not None


def _partial_label_case(root: Path) -> None:
    """A 12-slice image with a label of 10 slices on another grid (its slices 2-11)."""
    img = phantom((12, 24, 20))
    write_volume(root / "partial.nii.gz", img, spacing=(1.0, 1.0, 2.0))
    lab = phantom_label((10, 24, 20))
    write_volume(root / "partial_seg.nii.gz", lab, spacing=(1.0, 1.0, 2.0), origin=(0.0, 0.0, 2.0))


def test_a_label_covering_part_of_its_image_leaves_the_rest_out(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    _partial_label_case(root)
    (case,) = discover(root).cases
    assert case.usable, case.error
    assert "the label covers slices 2-11 of 12; the other slices are left out" in case.warnings
    table = LabelTable.from_names({0: "background", 1: "body", 2: "core"})
    prepared = prepare_cases([case], table, PreprocessParams(image_size=64), tmp_path / "cache")
    (vol,) = prepared.volumes
    assert vol.labelled is not None and vol.labelled.tolist() == [False] + [True] * 10 + [False]
    assert not vol.presence[[0, 11]].any()  # uncovered slices hold no class, not even background
    from engine.data.label_coverage import labelled_rows

    rows = np.array([(0, z) for z in range(12)])
    assert labelled_rows([vol], rows, context=1)[:, 1].tolist() == list(range(2, 10))


def test_label_maps_from_a_partly_covered_case_are_cut_to_what_it_covers(tmp_path):
    from engine.synthesis.label_sources import _covered_part

    root = tmp_path / "ds"
    root.mkdir()
    _partial_label_case(root)
    (case,) = discover(root).cases
    loaded = load_case(case)
    cut = _covered_part(loaded.label, loaded.coverage)
    assert cut.GetSize()[2] == 10
    np.testing.assert_allclose(cut.GetOrigin(), (0.0, 0.0, 2.0))


# ----------------------------------------------------------------------------- our own exports
@pytest.fixture(scope="module")
def own_export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "export"
    names = {0: "background", 1: "liver", 2: "kidney", 3: "tumour"}
    export_dataset(
        ExportConfig(out_dir=out, formats=("dicom", "nifti", "nnunet")),
        [export_case("syn_0001", seed=1), export_case("syn_0002", seed=2)],
        export_table(names),
    )
    return out


@pytest.mark.parametrize("part", ["dicom", "nifti", "nnunet", "whole export"])
def test_our_own_two_case_export_reads_back_as_two_cases(own_export, part):
    folder = {
        "dicom": own_export / "dicom",
        "nifti": own_export / "nifti",
        "whole export": own_export,
        "nnunet": next((own_export / "nnUNet_raw").iterdir()),
    }[part]
    result = discover(folder)
    assert len(result.cases) == 2, [(c.id, c.error) for c in result.cases]
    assert all(c.usable for c in result.cases), [c.error for c in result.cases]
    assert sorted(c.id for c in result.cases) == ["syn_0001", "syn_0002"]
    assert result.label_table.names_by_value()["1"] == "liver"  # the names come back too


def test_an_export_inside_a_dataset_is_left_out_of_its_scan(own_export, tmp_path):
    root = tmp_path / "dataset"
    write_volume(root / "real.nii.gz", phantom(SHAPE))
    write_volume(root / "real_seg.nii.gz", phantom_label(SHAPE))
    shutil.copytree(own_export, root / "synthetic export")
    result = discover(root)
    assert [c.id for c in result.cases] == ["real"]
    assert any("synthetic export" in n and "left out" in n for n in result.notes)


# ----------------------------------------------------------------------------- gallery label folders
def _label_folder(folder: Path, names: dict[int, str] | None, values=(1, 2)) -> Path:
    write_volume(folder / "map_a.nii.gz", phantom_label(SHAPE, values))
    write_volume(folder / "map_b.nii.gz", phantom_label(SHAPE, values))
    if names is not None:
        (folder / "labels.json").write_text(
            json.dumps({str(k): v for k, v in names.items()}), encoding="utf-8"
        )
    return folder


RUN_TABLE = LabelTable.from_names({0: "background", 1: "lung", 2: "heart"})


def test_a_brain_label_folder_on_a_chest_run_is_refused_with_what_differs(tmp_path):
    from engine.errors import DataError
    from engine.synthesis.label_sources import folder_label_maps

    folder = _label_folder(tmp_path / "brain maps", {1: "grey matter", 2: "white matter"})
    with pytest.raises(DataError) as err:
        folder_label_maps(folder, RUN_TABLE)
    text = str(err.value)
    assert "value 1 is 'grey matter' in the folder but 'lung' in the run" in text
    assert "value 2 is 'white matter' in the folder but 'heart' in the run" in text
    assert "--accept-label-differences" in text


def test_an_accepted_mismatch_is_used_with_a_warning_listing_the_differences(tmp_path):
    from engine.events import Log
    from engine.synthesis.label_sources import folder_label_maps

    folder = _label_folder(tmp_path / "brain maps", {1: "grey matter", 2: "white matter"})
    events = []
    maps = folder_label_maps(folder, RUN_TABLE, accept_differences=True, on_event=events.append)
    assert len(maps) == 2
    warned = [e.text for e in events if isinstance(e, Log) and e.level == "warning"]
    assert any("'grey matter' in the folder but 'lung'" in w for w in warned)


def test_label_folder_values_the_run_never_saw_are_refused_even_if_accepted(tmp_path):
    from engine.errors import DataError
    from engine.synthesis.label_sources import folder_label_maps

    folder = _label_folder(tmp_path / "maps", None, values=(1, 7))
    with pytest.raises(DataError, match=r"label value\(s\) \[7\] that the run was not trained on"):
        folder_label_maps(folder, RUN_TABLE, accept_differences=True)


def test_matching_names_pass_and_unnamed_folders_are_said(tmp_path):
    from engine.events import Log
    from engine.synthesis.label_sources import folder_label_maps

    named = _label_folder(tmp_path / "chest", {1: "Lung", 2: "heart"})
    assert len(folder_label_maps(named, RUN_TABLE)) == 2
    events = []
    folder_label_maps(_label_folder(tmp_path / "plain", None), RUN_TABLE, on_event=events.append)
    assert any(
        "does not name its labels" in e.text and "1 lung" in e.text for e in events if isinstance(e, Log)
    )
