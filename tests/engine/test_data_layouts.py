"""discover() on the folder layouts people actually have: nnU-Net v2, MSD, paired folders, loose
files, Slicer files, per-case folders. Every test writes its own small volumes into tmp_path, under
a path with spaces and non-ASCII characters."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file

from engine.data import discover
from engine.data.loading import load_case
from tests.engine.data_factory import (
    assert_geometry_matches_sitk,
    by_id,
    phantom,
    phantom_label,
    sitk_series_files,
    write_dicom_series,
    write_volume,
)

SHAPE = (6, 20, 16)
SPACING = (0.9, 1.1, 2.5)
ORIGIN = (-12.0, 7.5, 40.0)
OBLIQUE = (1.0, 0.0, 0.0, 0.0, 0.98058068, 0.19611614, 0.0, -0.19611614, 0.98058068)


@pytest.fixture
def root(tmp_path) -> Path:
    path = tmp_path / "Über Daten" / "Fall 1"
    path.mkdir(parents=True)
    return path


def _pair(folder: Path, image_name: str, label_name: str, seed=0, values=(1, 2), **geometry) -> None:
    geometry = {"spacing": SPACING, "origin": ORIGIN, **geometry}
    write_volume(folder / image_name, phantom(SHAPE, seed=seed), **geometry)
    write_volume(folder / label_name, phantom_label(SHAPE, values), **geometry)


def _assert_ok(case, label_name: str | None, root: Path, values=(0, 1, 2)):
    assert case.status == "ok", case.error
    assert case.error is None
    if label_name is None:
        assert case.label is None
        assert case.label_values == ()
    else:
        assert case.label is not None and case.label.name == label_name
        assert case.label_values == values
    assert_geometry_matches_sitk(case, root)


def test_nnunet_v2_dataset(root):
    meta = {
        "channel_names": {"0": "CT"},
        "labels": {"background": 0, "liver": 1, "tumour": 2},
        "numTraining": 2,
        "file_ending": ".nii.gz",
    }
    (root / "dataset.json").write_text(json.dumps(meta), encoding="utf-8")
    for i in (1, 2):
        _pair(root, f"imagesTr/liver_{i:03d}_0000.nii.gz", f"labelsTr/liver_{i:03d}.nii.gz", seed=i)
    write_volume(
        root / "imagesTr" / "liver_001_0001.nii.gz", phantom(SHAPE, seed=9)
    )  # a 2nd channel: ignored
    write_volume(root / "imagesTs" / "liver_050_0000.nii.gz", phantom(SHAPE), direction=OBLIQUE)

    result = discover(root)

    assert result.layout == "nnunet"
    cases = by_id(result)
    assert sorted(cases) == ["liver_001", "liver_002", "liver_050"]
    _assert_ok(cases["liver_001"], "liver_001.nii.gz", root)
    _assert_ok(cases["liver_002"], "liver_002.nii.gz", root)
    _assert_ok(cases["liver_050"], None, root)  # imagesTs: listed, unlabeled
    assert {c.modality for c in result.cases} == {"CT"}
    assert result.label_table.names_by_value() == {"0": "background", "1": "liver", "2": "tumour"}
    assert [c.id for c in result.usable_cases] == ["liver_001", "liver_002"]
    assert [c.id for c in result.unlabeled_cases] == ["liver_050"]


def test_msd_task(root):
    meta = {
        "name": "BrainTumour",
        "modality": {"0": "MRI"},
        "labels": {"0": "background", "1": "edema", "2": "enhancing tumour"},
        "training": [
            {"image": "./imagesTr/BRATS_001.nii.gz", "label": "./labelsTr/BRATS_001.nii.gz"},
            {"image": "./imagesTr/BRATS_002.nii.gz", "label": "./labelsTr/BRATS_002.nii.gz"},
            {"image": "./imagesTr/BRATS_003.nii.gz", "label": "./labelsTr/BRATS_003.nii.gz"},
        ],
        "test": ["./imagesTs/BRATS_100.nii.gz"],
    }
    (root / "dataset.json").write_text(json.dumps(meta), encoding="utf-8")
    for i in (1, 2):
        write_volume(root / f"imagesTr/BRATS_{i:03d}.nii.gz", phantom(SHAPE, "MR", i), SPACING, ORIGIN)
        write_volume(root / f"labelsTr/BRATS_{i:03d}.nii.gz", phantom_label(SHAPE), SPACING, ORIGIN)
    write_volume(
        root / "imagesTr/BRATS_003.nii.gz", phantom(SHAPE, "MR"), SPACING, ORIGIN
    )  # its label is missing
    write_volume(root / "imagesTs/BRATS_100.nii.gz", phantom(SHAPE, "MR"), SPACING, ORIGIN)

    result = discover(root)

    assert result.layout == "msd"
    cases = by_id(result)
    assert sorted(cases) == ["BRATS_001", "BRATS_002", "BRATS_003", "BRATS_100"]
    _assert_ok(cases["BRATS_001"], "BRATS_001.nii.gz", root)
    _assert_ok(cases["BRATS_100"], None, root)
    assert cases["BRATS_003"].status == "error"
    assert "labelsTr" in cases["BRATS_003"].error and "BRATS_003" in cases["BRATS_003"].error
    assert "missing" in cases["BRATS_003"].error
    assert {c.modality for c in result.cases} == {"MR"}
    assert result.label_table.names_by_value() == {"0": "background", "1": "edema", "2": "enhancing tumour"}


def _emri_label(path: Path, source: Path) -> None:
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(source))
    reader.ReadImageInformation()
    size = reader.GetSize()
    label = np.zeros(size[:3][::-1], np.uint8)
    label[2:5, 10:30, 20:40] = 3
    img = sitk.GetImageFromArray(label)
    img.SetSpacing(reader.GetSpacing()[:3])
    img.SetOrigin(reader.GetOrigin()[:3])
    sitk.WriteImage(img, str(path))


@pytest.mark.parametrize("labels_dir", ["labels", "masks", "segmentations"])
def test_paired_folders(root, labels_dir):
    images, labels = root / "images", root / labels_dir
    _pair(root, "images/case_001.nii.gz", f"{labels_dir}/case_001.nii.gz")
    _pair(root, "images/case_002_image.nrrd", f"{labels_dir}/case_002_label.nrrd", direction=OBLIQUE)
    _pair(root, "images/case_003_0000.nii.gz", f"{labels_dir}/case_003_seg.nii.gz")
    _pair(root, "images/case_004.mha", f"{labels_dir}/case_004_mask.mha")
    # a folder holding one case's DICOM series, and a label named after it
    write_dicom_series(images / "case 005", phantom(SHAPE), name="{uid}.dcm")
    ref = sitk.ReadImage(sitk_series_files(images / "case 005"))
    label = sitk.GetImageFromArray(phantom_label(SHAPE))
    label.CopyInformation(ref)
    sitk.WriteImage(label, str(labels / "case 005.nii.gz"))
    # a single multi-frame DICOM file (real enhanced MR) with its label
    shutil.copyfile(get_testdata_file("emri_small.dcm"), images / "case_006.dcm")
    _emri_label(labels / "case_006_seg.nii.gz", images / "case_006.dcm")
    write_volume(images / "case_007.nii.gz", phantom(SHAPE))  # no label: listed, not dropped
    _pair(root, "images/case_008/ct.nii.gz", f"{labels_dir}/case_008/label.nii.gz")  # per-case subfolders

    result = discover(root)

    assert result.layout == "paired"
    cases = by_id(result)
    assert sorted(cases) == sorted(["case 005"] + [f"case_00{i}" for i in (1, 2, 3, 4, 6, 7, 8)])
    _assert_ok(cases["case_001"], "case_001.nii.gz", root)
    _assert_ok(cases["case_002"], "case_002_label.nrrd", root)
    _assert_ok(cases["case_003"], "case_003_seg.nii.gz", root)
    _assert_ok(cases["case_004"], "case_004_mask.mha", root)
    _assert_ok(cases["case 005"], "case 005.nii.gz", root)
    assert len(cases["case 005"].image_files) == SHAPE[0]
    assert cases["case 005"].modality == "CT"
    _assert_ok(cases["case_006"], "case_006_seg.nii.gz", root, values=(0, 3))
    assert cases["case_006"].modality == "MR"
    assert cases["case_006"].geometry.size == (64, 64, 10)
    _assert_ok(cases["case_007"], None, root)
    _assert_ok(cases["case_008"], "label.nii.gz", root)
    # every labeled case loads with its label on the image grid
    loaded = load_case(cases["case_006"])
    assert loaded.image.GetSize() == (64, 64, 10)
    assert sorted(np.unique(sitk.GetArrayViewFromImage(loaded.label))) == [0, 3]


def test_single_image_and_label_files(root):
    _pair(root, "Fall 1.nii.gz", "Fall 1_label.nii.gz", direction=OBLIQUE)

    result = discover(root)
    assert [c.id for c in result.cases] == ["Fall 1"]
    _assert_ok(result.cases[0], "Fall 1_label.nii.gz", root)

    # the image file itself, or its label file, given as the dataset
    for given in (root / "Fall 1.nii.gz", root / "Fall 1_label.nii.gz"):
        one = discover(given)
        assert [(c.id, c.image.name, c.label.name) for c in one.cases] == [
            ("Fall 1", "Fall 1.nii.gz", "Fall 1_label.nii.gz")
        ]
        assert one.cases[0].ok


def test_slicer_volume_and_seg_nrrd_with_segment_names(root):
    write_volume(root / "CT Abdomen.nrrd", phantom(SHAPE), SPACING, ORIGIN)
    seg = sitk.GetImageFromArray(phantom_label(SHAPE, (1, 4)))
    seg.SetSpacing(SPACING)
    seg.SetOrigin(ORIGIN)
    for i, (name, value) in enumerate([("liver", 1), ("lesion", 4)]):
        seg.SetMetaData(f"Segment{i}_ID", f"Segment_{i + 1}")
        seg.SetMetaData(f"Segment{i}_Name", name)
        seg.SetMetaData(f"Segment{i}_LabelValue", str(value))
        seg.SetMetaData(f"Segment{i}_Layer", "0")
    sitk.WriteImage(seg, str(root / "CT Abdomen.seg.nrrd"), True)

    result = discover(root)

    assert [c.id for c in result.cases] == ["CT Abdomen"]
    _assert_ok(result.cases[0], "CT Abdomen.seg.nrrd", root, values=(0, 1, 4))
    assert result.cases[0].modality == "CT"  # from the file name
    assert result.label_table.names_by_value() == {"0": "background", "1": "liver", "4": "lesion"}


def test_per_case_folders(root):
    for i in (1, 2, 3):
        _pair(root / f"case_{i:05d}", "imaging.nii.gz", "segmentation.nii.gz", seed=i)
    result = discover(root)
    cases = by_id(result)
    assert sorted(cases) == ["case_00001", "case_00002", "case_00003"]
    for case in cases.values():
        _assert_ok(case, "segmentation.nii.gz", root)
        assert case.image.name == "imaging.nii.gz"


def test_labels_json_names_the_labels(root):
    _pair(root, "a.nii.gz", "a_seg.nii.gz", values=(1, 5))
    (root / "labels.json").write_text(json.dumps({"1": "Leber", "5": "Läsion"}), encoding="utf-8")
    result = discover(root)
    assert result.label_table.names_by_value() == {"0": "background", "1": "Leber", "5": "Läsion"}


def test_unnamed_labels_get_default_names(root):
    _pair(root, "a.nii.gz", "a_seg.nii.gz", values=(2, 7))
    result = discover(root)
    assert result.label_table.names_by_value() == {"0": "background", "2": "label 2", "7": "label 7"}


def test_malformed_dataset_json_is_reported_not_fatal(root):
    (root / "dataset.json").write_text("{not json", encoding="utf-8")
    _pair(root, "imagesTr/x_0000.nii.gz", "labelsTr/x.nii.gz")
    result = discover(root)
    assert any("dataset.json" in n for n in result.notes)
    assert [c.id for c in result.usable_cases] == ["x"]
