"""Hostile and damaged inputs (issue 10 §2): hostile config.json / label_table.json values in a run
folder, a truncated cache entry, unreadable files, NaN or singular NIfTI transforms, label values
past 16 bits, ITK's silent short write on a full disk, an export into its own dataset, and label
names that DICOM cannot hold as they are (checked with dciodvfy)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
import subprocess
import tracemalloc
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from engine.data import discover
from engine.data.cache import PreprocessParams, prepare_cases
from engine.data.labels import LabelTable
from engine.errors import DataError, ExportError, SynthVolError
from engine.events import Log
from tests.engine.data_factory import phantom, phantom_label, write_volume
from tests.engine.export_helpers import case as export_case
from tests.engine.export_helpers import error_lines, tool
from tests.faults import Faults

SHAPE = (6, 20, 16)


def _edit_config(run: Path, change) -> None:
    path = run / "config.json"
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


HOSTILE_CONFIG = {
    "spacing 0": lambda r: r.update(spacing_mm=0),
    "spacing -1": lambda r: r.update(spacing_mm=-1),
    "spacing abc": lambda r: r.update(spacing_mm="abc"),
    "spacing 0.002": lambda r: r.update(spacing_mm=0.002),
    "spacing NaN": lambda r: r.update(spacing_mm=float("nan")),
    "no model": lambda r: r.pop("model"),
    "model not a dict": lambda r: r.update(model="big"),
    "model unknown key": lambda r: r["model"].update(warp_drive=9),
    "model 1 class": lambda r: r["model"].update(num_classes=1),
}


@pytest.mark.parametrize("what", sorted(HOSTILE_CONFIG))
def test_hostile_config_json_is_refused_before_allocating(tiny_run_copy, what):
    from engine.synthesis import Synthesizer

    _edit_config(tiny_run_copy, HOSTILE_CONFIG[what])
    tracemalloc.start()
    try:
        with pytest.raises(SynthVolError) as err:
            Synthesizer(tiny_run_copy, device="cpu")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "config.json" in str(err.value)
    assert peak < 64 << 20, f"{peak / 2**20:.0f} MiB allocated before refusing"


@pytest.mark.parametrize("value", [1e10, -3, "abc", 70000, True])
def test_hostile_label_table_values_are_refused_naming_the_file(tiny_run_copy, value):
    from engine.synthesis import Synthesizer

    path = tiny_run_copy / "label_table.json"
    data = json.loads(path.read_text())
    data["labels"][-1]["value"] = value
    path.write_text(json.dumps(data))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="label_table.json") as err:
            Synthesizer(tiny_run_copy, device="cpu")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20
    assert "Traceback" not in str(err.value)


def test_a_label_map_too_large_for_the_run_spacing_is_refused_before_generating():
    from engine.training.run_record import RunRecordError, check_synthesis_grid

    label = sitk.Image([512, 512, 300], sitk.sitkUInt8)
    label.SetSpacing((1.0, 1.0, 1.0))
    with pytest.raises(RunRecordError, match="GiB volume"):
        check_synthesis_grid(label, 0.05)
    check_synthesis_grid(label, 1.0)  # the same map at its own spacing is fine


# --------------------------------------------------------------------------------- the cache
def _cached(tmp_path):
    write_volume(tmp_path / "ds" / "a.nii.gz", phantom(SHAPE))
    write_volume(tmp_path / "ds" / "a_seg.nii.gz", phantom_label(SHAPE))
    scan = discover(tmp_path / "ds")
    table = LabelTable.from_names({0: "background", 1: "body", 2: "core"})
    return scan.usable_cases, table


@pytest.mark.parametrize(
    "damage", ["truncated image", "truncated label", "missing label", "bad meta", "no meta"]
)
def test_a_damaged_cache_entry_is_rebuilt_and_said(tmp_path, damage):
    cases, table = _cached(tmp_path)
    params = PreprocessParams(image_size=64)
    first = prepare_cases(cases, table, params, tmp_path / "cache").volumes[0]
    good = np.asarray(first.image()).copy()
    folder = first.folder
    if damage == "truncated image":
        raw = (folder / "image.npy").read_bytes()
        (folder / "image.npy").write_bytes(raw[: len(raw) // 2])
    elif damage == "truncated label":
        raw = (folder / "label.npy").read_bytes()
        (folder / "label.npy").write_bytes(raw[:-10])
    elif damage == "missing label":
        (folder / "label.npy").unlink()
    elif damage == "bad meta":
        (folder / "meta.json").write_text("{not json")
    else:
        (folder / "meta.json").unlink()
    events = []
    again = prepare_cases(cases, table, params, tmp_path / "cache", on_event=events.append).volumes[0]
    assert any("damaged" in e.text and "rebuilding" in e.text for e in events if isinstance(e, Log))
    np.testing.assert_array_equal(np.asarray(again.image()), good)
    assert np.asarray(again.label()).shape == good.shape


# --------------------------------------------------------------------------------- reading files
def test_an_unreadable_file_is_not_reported_as_missing(tmp_path):
    write_volume(tmp_path / "a.nii.gz", phantom(SHAPE))
    write_volume(tmp_path / "a_seg.nii.gz", phantom_label(SHAPE))
    with Faults(unreadable=[tmp_path / "a.nii.gz"]):
        (case,) = discover(tmp_path).cases
    assert case.status == "error"
    assert "may not be read (permission denied)" in case.error and "a.nii.gz" in case.error
    assert "does not exist" not in case.error and "no such file" not in case.error.lower()


def test_an_unreadable_dicom_file_says_permission_denied(tmp_path):
    from pydicom.data import get_testdata_file

    shutil.copyfile(get_testdata_file("CT_small.dcm"), tmp_path / "ct.dcm")
    with Faults(unreadable=[tmp_path / "ct.dcm"]):
        (case,) = discover(tmp_path).cases
    assert case.status == "error" and "Permission denied" in case.error


def _nifti_with_sform(path: Path, arr: np.ndarray, rows) -> Path:
    raw = bytearray(nib.Nifti1Image(arr, np.eye(4)).to_bytes())
    struct.pack_into("<hh", raw, 252, 0, 1)  # qform_code 0, sform_code 1
    for i, row in enumerate(rows):
        struct.pack_into("<4f", raw, 280 + 16 * i, *row)
    path.write_bytes(gzip.compress(bytes(raw)))
    return path


@pytest.mark.parametrize(
    "rows,words",
    [
        ([[np.nan] * 4] * 3, "NaN"),
        ([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]], "singular"),
    ],
)
def test_a_nan_or_singular_sform_is_said_as_such(tmp_path, rows, words):
    data = (phantom((6, 20, 16)).T).copy()
    _nifti_with_sform(tmp_path / "bad.nii.gz", data, rows)
    _nifti_with_sform(tmp_path / "bad_seg.nii.gz", phantom_label((6, 20, 16)).T.copy(), rows)
    result = discover(tmp_path)
    image_case = next(c for c in result.cases if c.image.name == "bad.nii.gz")
    assert image_case.status == "error"
    assert "does not place the voxels in space" in image_case.error and words in image_case.error
    assert "slices" not in image_case.error


def test_a_label_value_past_16_bits_is_shown_as_it_is(tmp_path):
    lab = phantom_label(SHAPE).astype(np.int32)
    lab[lab == 2] = 70000
    write_volume(tmp_path / "a.nii.gz", phantom(SHAPE))
    write_volume(tmp_path / "a_seg.nii.gz", lab)
    (case,) = discover(tmp_path).cases
    assert case.status == "error"
    assert "70000" in case.error and "4464" not in case.error and "65535" in case.error


def test_an_unreadable_folder_is_said_not_dropped(tmp_path, monkeypatch):
    write_volume(tmp_path / "ok" / "a.nii.gz", phantom(SHAPE))
    (tmp_path / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = discover(tmp_path)
    assert any("locked" in n and "cannot be read" in n for n in result.notes)


# --------------------------------------------------------------------------------- writing files
def test_itk_short_write_on_a_full_disk_raises(tmp_path):
    from engine.data.volume_io import write_image_checked

    (tmp_path / "full.nii.gz").symlink_to("/dev/full")  # the kernel answers ENOSPC, ITK says nothing
    (tmp_path / "full.nii").symlink_to("/dev/full")
    image = sitk.GetImageFromArray(np.random.default_rng(0).random((8, 64, 64)).astype(np.float32))
    for name, compress in (("full.nii.gz", True), ("full.nii", False)):
        sitk.WriteImage(image, str(tmp_path / name), compress)  # the bug: no exception
        with pytest.raises(OSError, match="written incompletely"):
            write_image_checked(image, tmp_path / name, compress)


def test_a_gallery_item_on_a_full_disk_is_not_kept(tmp_path):
    from engine.synthesis.gallery import Gallery

    gallery = Gallery(tmp_path / "gallery")
    image = sitk.GetImageFromArray(np.random.default_rng(0).random((8, 64, 64)).astype(np.float32))
    label = sitk.GetImageFromArray(np.zeros((8, 64, 64), np.uint8))
    with Faults(short_itk=[tmp_path / "gallery"]), pytest.raises(OSError, match="incompletely"):
        gallery.add(image, label, {"modality": "CT"})
    assert gallery.items() == [] and not list((tmp_path / "gallery").iterdir())


def test_an_export_on_a_full_disk_fails_cleanly(tmp_path):
    from engine.export import ExportConfig, export_dataset
    from tests.engine.export_helpers import table

    out = tmp_path / "export"
    with Faults(short_itk=[tmp_path]), pytest.raises(ExportError, match="incompletely"):
        export_dataset(ExportConfig(out_dir=out, formats=("nifti",)), [export_case("syn_0001")], table())
    assert not out.exists() and not list(tmp_path.glob("export.partial-*"))


@pytest.mark.parametrize("where", ["inside", "same", "holding", "via symlink"])
def test_an_export_into_its_dataset_is_refused(tmp_path, where):
    from engine.data.synthvol_exports import check_export_target

    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "link").symlink_to(data)
    out = {
        "inside": data / "synthetic",
        "same": data,
        "holding": tmp_path,
        "via symlink": tmp_path / "link" / "synthetic",
    }[where]
    with pytest.raises(ExportError, match="dataset"):
        check_export_target(out, [data])
    check_export_target(tmp_path / "elsewhere", [data])


def test_an_export_into_a_read_only_folder_is_refused_before_any_work(tmp_path):
    from engine.data.synthvol_exports import check_export_target

    with Faults(readonly=[tmp_path]), pytest.raises(ExportError, match="not writable"):
        check_export_target(tmp_path / "out", [])


# --------------------------------------------------------------------------------- DICOM strings
HOSTILE_NAMES = {
    1: "liver\\left lobe",
    2: "line one\nline two\ttab",
    3: "Läsion " * 12,  # 84 characters, 96 bytes of UTF-8
    4: "\x00\x07",  # nothing printable
}


def test_label_names_become_valid_dicom_strings_and_the_manifest_keeps_them(tmp_path):
    from engine.export import ExportConfig, export_dataset

    names = {0: "background", **HOSTILE_NAMES}
    out = tmp_path / "export"
    export_dataset(
        ExportConfig(out_dir=out, formats=("dicom",)),
        [export_case("syn_0001", values=(1, 2, 3))],
        LabelTable.from_names(names),
    )
    seg_path = next(out.rglob("seg.dcm"))
    report = subprocess.run([tool("dciodvfy"), "-new", str(seg_path)], capture_output=True, text=True).stderr
    assert not error_lines(report), error_lines(report)
    slice_path = next((out / "dicom").rglob("CT_1/*.dcm"))
    report = subprocess.run(
        [tool("dciodvfy"), "-new", str(slice_path)], capture_output=True, text=True
    ).stderr
    assert not error_lines(report), error_lines(report)
    seg = pydicom.dcmread(seg_path)
    labels = [item.SegmentLabel for item in seg.SegmentSequence]
    assert all(isinstance(v, str) for v in labels), labels  # one value each, never split by a backslash
    assert all(len(v.encode("utf-8")) <= 64 and "\n" not in v and "\\" not in v for v in labels)
    assert "liver/left lobe" in labels and "line one line two tab" in labels and "label 4" in labels
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    kept = {e["value"]: e["name"] for e in manifest["label_table"]}
    assert kept[1] == HOSTILE_NAMES[1] and kept[3] == HOSTILE_NAMES[3]


def test_dicom_string_rules_per_vr():
    from engine.export.dicom_strings import cut_bytes, one_value

    assert cut_bytes("ä" * 40, 64) == "ä" * 32
    assert one_value("a\\b\nc", "LO") == "a/b c"
    assert one_value("bad cs-value", "CS") == "BAD CS_VALUE"
    assert one_value("x" * 20, "SH") == "x" * 16
    assert one_value("line\nkept\\too", "ST") == "line\nkept\\too"
    assert one_value("Doe^Jane\\x", "PN") == "Doe^Jane/x"


def test_a_clear_message_names_the_file_for_each_reader_fault(tmp_path):
    """Sanity for RELIABILITY.md: each message above names a path and is one line of text."""
    write_volume(tmp_path / "x.nii.gz", phantom(SHAPE))
    (tmp_path / "x_seg.nii.gz").write_bytes(b"")
    (case,) = discover(tmp_path).cases
    assert case.status == "error" and "x_seg.nii.gz" in case.error and "\n" not in case.error
