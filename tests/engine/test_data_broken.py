"""A corpus of broken files scanned in one go: every bad file becomes a case with status "error" and
a message naming the file and the problem; the scan goes on and the good cases beside them are found."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from engine.data import discover
from engine.data.loading import load_case
from engine.errors import DataError
from tests.engine.data_factory import (
    phantom,
    phantom_label,
    to_sitk,
    truncate,
    truncate_gzip_payload,
    write_dicom_series,
    write_nifti_raw,
    write_volume,
)

SHAPE = (8, 24, 20)
DICOMDIR_TESTS = Path(get_testdata_file("MR700")).parents[1]

# file or folder name -> words the error must contain (any of the alternatives in a tuple)
BROKEN = {
    "trunc_gz.nii.gz": (("truncated", "ends early"),),
    "trunc_payload.nii.gz": ("truncated",),
    "trunc_raw.nii": ("truncated",),
    "trunc_gzip_nrrd.nrrd": ("truncated",),
    "trunc_raw_nrrd.nrrd": ("truncated",),
    "trunc_meta.mha": ("truncated",),
    "text.nii.gz": ("not a readable image",),
    "zero.nii.gz": ("empty", "0 bytes"),
    "fake.dcm": ("not a DICOM file",),
    "rgb_colour.nrrd": ("RGB",),
    "rgb_colour_nifti.nii.gz": ("RGB",),
    "two_channels.mha": ("2 components",),
    "four_d.nii.gz": ("4-D",),
    "four_d_nrrd.nrrd": ("4-D",),
    "all_nan.nii.gz": ("every voxel", "NaN"),
    "part_nan.nii.gz": ("NaN", "voxels"),
    "constant.nii.gz": ("same value",),
    "floaty.nii.gz": ("floaty_seg.nii.gz", "non-integer"),
    "minus.nii.gz": ("minus_seg.nii.gz", "negative"),
    "far_away.nii.gz": ("far_away_seg.nii.gz", "does not overlap"),
    "orphan_seg.nii.gz": ("without an image",),
    "trunc series": ("IM0004.dcm", "truncated"),
    "two echoes": ("interleaves", "EchoNumbers"),
    "duplicates": ("duplicated slice positions",),
    "missing slice": ("non-uniform slice spacing", "missing"),
    "mixed orientation": ("orientations",),
    "MR700": ("7 different orientations",),
    "CT2": ("non-uniform slice spacing",),
}
# 2-D images are one-slice volumes (issue 10 §3): listed as ok, not as errors
GOOD = ["good.nii.gz", "good series", "resampled.nii.gz", "t_one.nii.gz", "two_d.nii.gz", "one_slice.nrrd",
        "single slice"]


def _build_corpus(root: Path) -> None:
    img, lab = phantom(SHAPE), phantom_label(SHAPE)
    fimg = img.astype(np.float32)
    write_volume(root / "good.nii.gz", img)
    write_volume(root / "good_seg.nii.gz", lab)
    write_volume(root / "trunc_gz.nii.gz", img)
    truncate(root / "trunc_gz.nii.gz")
    write_volume(root / "trunc_payload.nii.gz", img)
    truncate_gzip_payload(root / "trunc_payload.nii.gz")
    write_volume(root / "trunc_raw.nii", img)
    truncate(root / "trunc_raw.nii", 0.8)
    write_volume(root / "trunc_gzip_nrrd.nrrd", img, compress=True)
    truncate(root / "trunc_gzip_nrrd.nrrd")
    write_volume(root / "trunc_raw_nrrd.nrrd", img, compress=False)
    truncate(root / "trunc_raw_nrrd.nrrd", 0.8)
    write_volume(root / "trunc_meta.mha", img, compress=False)
    truncate(root / "trunc_meta.mha", 0.8)
    (root / "text.nii.gz").write_text("patient list\nnot an image\n", encoding="utf-8")
    (root / "zero.nii.gz").write_bytes(b"")
    (root / "fake.dcm").write_text("this is not DICOM", encoding="utf-8")
    rgb = np.stack([np.clip(img, 0, 255).astype(np.uint8)] * 3, axis=-1)
    write_volume(root / "rgb_colour.nrrd", rgb, vector=True)
    write_volume(root / "rgb_colour_nifti.nii.gz", rgb, vector=True)
    write_volume(root / "two_channels.mha", np.stack([img, img], axis=-1), vector=True)
    write_nifti_raw(root / "four_d.nii.gz", np.stack([img.T] * 3, axis=-1))
    sitk.WriteImage(sitk.JoinSeries([to_sitk(img), to_sitk(img)]), str(root / "four_d_nrrd.nrrd"))
    write_nifti_raw(root / "t_one.nii.gz", img.T[..., None])  # 4-D with one time point: a 3-D volume
    write_volume(root / "two_d.nii.gz", img[0])
    write_volume(root / "one_slice.nrrd", img[:1])
    write_volume(root / "all_nan.nii.gz", np.full(SHAPE, np.nan, np.float32))
    part = fimg.copy()
    part[3, 4:6, 4:6] = np.nan
    write_volume(root / "part_nan.nii.gz", part)
    write_volume(root / "constant.nii.gz", np.full(SHAPE, 40, np.int16))
    write_volume(root / "floaty.nii.gz", img)
    write_volume(root / "floaty_seg.nii.gz", lab.astype(np.float32) * 0.5)
    write_volume(root / "minus.nii.gz", img)
    write_volume(root / "minus_seg.nii.gz", lab.astype(np.int16) - 1)
    # same physical space, half the in-plane resolution: resampled, not an error
    write_volume(root / "resampled.nii.gz", img, spacing=(1.0, 1.0, 2.0))
    write_volume(
        root / "resampled_seg.nii.gz", lab[:, ::2, ::2], spacing=(2.0, 2.0, 2.0), origin=(0.5, 0.5, 0.0)
    )
    write_volume(root / "far_away.nii.gz", img)
    write_volume(root / "far_away_seg.nii.gz", lab, origin=(900.0, 900.0, 900.0))
    write_volume(root / "orphan_seg.nii.gz", lab)
    # DICOM
    small = phantom((6, 16, 12))
    write_dicom_series(root / "good series", small)
    write_dicom_series(root / "trunc series", small)
    truncate(root / "trunc series" / "IM0004.dcm", 0.7)
    uid = generate_uid()
    write_dicom_series(
        root / "two echoes",
        small,
        series_uid=uid,
        name="e1_{index}.dcm",
        tweak=lambda ds, k: setattr(ds, "EchoNumbers", 1),
    )
    write_dicom_series(
        root / "two echoes",
        small,
        series_uid=uid,
        name="e2_{index}.dcm",
        tweak=lambda ds, k: setattr(ds, "EchoNumbers", 2),
    )
    write_dicom_series(root / "duplicates", small, positions=[(0, 0, 2.5 * k) for k in (0, 1, 2, 2, 3, 4)])
    write_dicom_series(root / "missing slice", small)
    os.remove(root / "missing slice" / "IM0003.dcm")
    write_dicom_series(
        root / "mixed orientation",
        small,
        tweak=lambda ds, k: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 0, 0, -1]) if k == 3 else None,
    )
    shutil.copytree(DICOMDIR_TESTS / "98892003" / "MR700", root / "MR700")
    shutil.copytree(DICOMDIR_TESTS / "77654033" / "CT2", root / "CT2")
    write_dicom_series(root / "single slice", small[:1])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus") / "Kaputte Daten (Übung)"
    root.mkdir()
    _build_corpus(root)
    return root, discover(root)


def _case_for(result, root: Path, name: str):
    path = root / name
    hits = [c for c in result.cases if path in (c.image, c.label) or (c.image.parent == path)]
    assert len(hits) == 1, f"{name}: {[(c.id, str(c.image)) for c in result.cases]}"
    return hits[0]


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_file_is_an_error_naming_file_and_problem(corpus, name):
    root, result = corpus
    case = _case_for(result, root, name)
    assert case.status == "error", f"{name} passed as {case}"
    assert not case.usable
    error = case.error
    assert str(root) in error, error  # where: the path of the file or folder
    assert name in error or any(n in error for n in BROKEN[name] if isinstance(n, str) and "." in n), error
    for words in BROKEN[name]:
        alternatives = words if isinstance(words, tuple) else (words,)
        assert any(w.lower() in error.lower() for w in alternatives), (
            f"{name}: {error!r} lacks {alternatives}"
        )
    assert "Traceback" not in error


@pytest.mark.parametrize("name", GOOD)
def test_good_cases_beside_broken_ones_are_found(corpus, name):
    root, result = corpus
    case = _case_for(result, root, name)
    assert case.status == "ok", case.error
    assert case.error is None


def test_scan_lists_every_file_once(corpus):
    root, result = corpus
    assert len(result.cases) == len(BROKEN) + len(GOOD)
    assert len({c.id for c in result.cases}) == len(result.cases)
    assert sorted(c.id for c in result.usable_cases) == ["good", "resampled"]


def test_label_on_another_grid_is_resampled_onto_the_image(corpus):
    root, result = corpus
    case = _case_for(result, root, "resampled.nii.gz")
    assert case.label_resampled
    assert any("resampled" in w and "nearest" in w for w in case.warnings), case.warnings
    assert case.label_values == (0, 1, 2)
    loaded = load_case(case)
    assert loaded.label.GetSize() == loaded.image.GetSize() == (20, 24, 8)
    assert loaded.label.GetSpacing() == loaded.image.GetSpacing()
    got = sitk.GetArrayFromImage(loaded.label)
    # each 2x2 block of image voxels takes the label of the coarse voxel covering it
    np.testing.assert_array_equal(got[:, ::2, ::2], phantom_label(SHAPE)[:, ::2, ::2])
    np.testing.assert_array_equal(got[:, 1::2, 1::2], phantom_label(SHAPE)[:, ::2, ::2])


def test_quick_scan_reports_header_problems_and_never_raises(corpus):
    root, _ = corpus
    result = discover(root, verify=False)
    cases = {c.image.name: c for c in result.cases}
    for name in (
        "text.nii.gz",
        "zero.nii.gz",
        "rgb_colour.nrrd",
        "four_d.nii.gz",
        "fake.dcm",
        "missing slice",
        "two echoes",
        "trunc series",
    ):
        assert cases[name].status == "error", name
    assert cases["good.nii.gz"].usable  # headers only: the label values are not read


def test_load_case_refuses_a_broken_case(corpus):
    root, result = corpus
    with pytest.raises(DataError, match="NaN"):
        load_case(_case_for(result, root, "all_nan.nii.gz"))


def test_simpleitk_alone_would_miss_these(corpus):
    """Why the engine double-checks: SimpleITK reads these two files without complaint."""
    root, _ = corpus
    nan = sitk.GetArrayFromImage(sitk.ReadImage(str(root / "all_nan.nii.gz")))
    assert not np.isnan(nan).any()  # NaN read as zeros
    sitk.ReadImage(str(root / "trunc_payload.nii.gz"))  # no exception


def test_empty_case_folder_under_images_is_reported(tmp_path):
    root = tmp_path / "paired"
    write_volume(root / "images" / "a.nii.gz", phantom(SHAPE))
    write_volume(root / "labels" / "a.nii.gz", phantom_label(SHAPE))
    (root / "images" / "case 9").mkdir()
    (root / "images" / "case 10").mkdir()
    (root / "images" / "case 10" / "notes.txt").write_text("nothing here")
    result = discover(root)
    cases = {c.id: c for c in result.cases}
    assert cases["a"].usable
    for cid in ("case 9", "case 10"):
        assert cases[cid].status == "error"
        assert "empty case folder" in cases[cid].error and cid in cases[cid].error


def test_empty_folder_and_missing_path(tmp_path):
    result = discover(tmp_path)
    assert result.cases == [] and not result.usable_cases
    assert any("no image files found" in n for n in result.notes)
    with pytest.raises(DataError, match="no such file or folder"):
        discover(tmp_path / "nicht da")
