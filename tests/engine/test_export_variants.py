"""Less common inputs: LABELMAP SEG, label values with gaps, a left-handed grid, values the label
table does not name, integer MR; and the small pure functions (codes, pixels, UIDs)."""

from __future__ import annotations

import json

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from engine.errors import ExportError
from engine.events import Log
from engine.export import ExportCase, ExportConfig, export_dataset
from engine.export.codes import codes_for
from engine.export.pixels import ct_pixels, mr_pixels
from engine.export.uids import CaseUIDs
from tests.engine.export_helpers import (
    assert_same_image,
    case,
    error_lines,
    oblique_direction,
    read_series,
    run,
    series_files,
    sop_uids_along_normal,
    table,
    tool,
)

SMALL = {"size_xyz": (20, 16, 5)}


def _seg_labels(root, case_id, value_of_segment):
    series = root / "dicom" / case_id / "CT_1"
    seg = hd.seg.segread(root / "dicom" / case_id / "SEG_100" / "seg.dcm")
    decoded = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=sop_uids_along_normal(series),
        combine_segments=True,
        skip_overlap_checks=True,
    )
    lut = np.zeros(max(value_of_segment) + 1, np.int64)
    for number, value in value_of_segment.items():
        lut[number] = value
    return seg, lut[decoded]


def test_labelmap_seg_is_valid_and_decodes_to_the_label(tmp_path):
    result = export_dataset(
        ExportConfig(out_dir=tmp_path / "OUT", formats=("dicom", "nifti"), seg_type="LABELMAP"),
        [case("syn_0001", **SMALL)],
        table(),
    )
    seg_path = result.out_dir / "dicom" / "syn_0001" / "SEG_100" / "seg.dcm"
    assert not error_lines(run([tool("dciodvfy"), "-new", str(seg_path)]))
    ds = pydicom.dcmread(seg_path, stop_before_pixels=True)
    assert ds.SegmentationType == "LABELMAP" and ds.file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
    assert ds.SyntheticData == "YES"
    _, labels = _seg_labels(result.out_dir, "syn_0001", {0: 0, 1: 1, 2: 2, 3: 3})
    nifti = sitk.GetArrayFromImage(sitk.ReadImage(str(result.out_dir / "nifti" / "syn_0001_label.nii.gz")))
    np.testing.assert_array_equal(labels, nifti)


def test_label_values_with_gaps(tmp_path):
    names = {0: "background", 2: "liver", 7: "spleen"}
    result = export_dataset(
        ExportConfig(out_dir=tmp_path / "OUT"), [case("syn_0001", values=(2, 7), **SMALL)], table(names)
    )
    root = result.out_dir
    manifest = json.loads(result.manifest_path.read_text())
    numbers = {e["segment_number"]: e["value"] for e in manifest["label_table"] if "segment_number" in e}
    assert numbers == {1: 2, 2: 7}  # consecutive segment numbers, as the standard requires
    seg, labels = _seg_labels(root, "syn_0001", {0: 0, **numbers})
    assert [seg.get_segment_description(n).segment_label for n in (1, 2)] == ["liver", "spleen"]
    nifti = sitk.GetArrayFromImage(sitk.ReadImage(str(root / "nifti" / "syn_0001_label.nii.gz")))
    np.testing.assert_array_equal(labels, nifti)
    assert set(np.unique(nifti)) == {0, 2, 7}
    nn = root / "nnUNet_raw" / "Dataset501_SynthVol"
    assert json.loads((nn / "dataset.json").read_text())["labels"] == {
        "background": 0,
        "liver": 1,
        "spleen": 2,
    }
    classes = sitk.GetArrayFromImage(sitk.ReadImage(str(nn / "labelsTr" / "syn_0001.nii.gz")))
    np.testing.assert_array_equal(classes, np.select([nifti == 2, nifti == 7], [1, 2], 0))
    for path in [*series_files(root / "dicom" / "syn_0001" / "CT_1"), seg.filename]:
        assert not error_lines(run([tool("dciodvfy"), "-new", str(path)]))


def test_left_handed_grid_still_round_trips(tmp_path):
    result = export_dataset(
        ExportConfig(out_dir=tmp_path / "OUT", formats=("dicom", "nifti")),
        [case("syn_0001", direction=oblique_direction(30, left_handed=True), **SMALL)],
        table(),
    )
    root = result.out_dir
    assert_same_image(
        read_series(root / "dicom" / "syn_0001" / "CT_1"),
        sitk.ReadImage(str(root / "nifti" / "syn_0001_image.nii.gz")),
    )
    # the same physical volume: resample the source onto the exported grid and compare
    source = sitk.Cast(
        case("syn_0001", direction=oblique_direction(30, left_handed=True), **SMALL).load()[1], sitk.sitkUInt8
    )
    exported = sitk.ReadImage(str(root / "nifti" / "syn_0001_label.nii.gz"))
    resampled = sitk.Resample(source, exported, sitk.Transform(), sitk.sitkNearestNeighbor)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(resampled), sitk.GetArrayFromImage(exported))
    assert json.loads(result.manifest_path.read_text())["cases"][0]["notes"]["slice_order_reversed"]


def test_values_missing_from_the_table_become_background_with_a_warning(tmp_path):
    events = []
    result = export_dataset(
        ExportConfig(out_dir=tmp_path / "OUT", formats=("nifti",)),
        [case("syn_0001", **SMALL)],
        table({0: "background", 1: "liver", 2: "kidney"}),
        events.append,
    )
    assert any(isinstance(e, Log) and e.level == "warning" and "[3]" in e.text for e in events)
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(result.out_dir / "nifti" / "syn_0001_label.nii.gz")))
    assert set(np.unique(label)) == {0, 1, 2}


def test_integer_mr_is_kept_exactly(tmp_path):
    def load():
        image, label = case("m", "MR", **SMALL).load()
        return sitk.Cast(image * 1000, sitk.sitkInt32), label

    result = export_dataset(
        ExportConfig(out_dir=tmp_path / "OUT", formats=("dicom",)),
        [ExportCase("syn_0001", "MR", load)],
        table(),
    )
    dicom = read_series(result.out_dir / "dicom" / "syn_0001" / "MR_1")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(dicom), sitk.GetArrayFromImage(load()[0]))
    assert json.loads(result.manifest_path.read_text())["cases"][0]["pixels"]["scale"] == 1.0


def test_codes_for_common_names():
    assert codes_for("Liver").type.value == "10200004"
    assert codes_for("left_kidney").type.value == "64033007"
    assert codes_for("Grey Matter").type.value == "389081007"
    assert codes_for("WM").type.value == "389080008"
    assert codes_for("CSF").category.value == "91720002"
    assert codes_for("liver lesion").type.value == "52988006"
    assert codes_for("brain tumour").category.value == "49755003"
    assert codes_for("gallbladder").type.value == "28231008"
    unknown = codes_for("label 9")
    assert (unknown.category.value, unknown.type.value) == ("91723000", "85756007")


def test_pixel_conversions_say_what_they_did():
    ct, info = ct_pixels(np.array([[[-50000.4, 0.6, 40000.0, np.nan]]], np.float32))
    assert ct.dtype == np.int16 and ct.tolist() == [[[-32768, 1, 32767, 0]]]
    assert info["clipped_voxels"] == 2 and info["nonfinite_voxels_set_to_0"] == 1
    mr, info = mr_pixels(np.array([[[0.0, 0.5, 1.0]]], np.float32))
    assert mr.dtype == np.uint16 and info["scale"] == 4095.0 and mr.tolist() == [[[0, 2048, 4095]]]
    mr, info = mr_pixels(np.array([[[0, 70000.0]]]))
    assert mr.max() == 65535 and info["scale"] < 1


def test_uids_are_fresh_2_25_uids():
    a, b = CaseUIDs.mint(3), CaseUIDs.mint(3)
    every = [a.study, a.frame_of_reference, a.series, a.seg_series, a.seg_instance, *a.instances]
    assert all(u.startswith("2.25.") and len(u) <= 64 for u in every)
    assert len(set(every) | {b.study, *b.instances}) == len(every) + 4


def test_slice_encoder_writes_exactly_what_pydicom_writes(tmp_path):
    import io

    from pydicom.dataelem import DataElement

    from engine.export import dicom_series
    from engine.export.dicom_header import CaseIdentity, Provenance
    from engine.export.slice_encoder import SliceEncoder
    from engine.export.volume import prepare_case

    for modality in ("CT", "MR"):
        prepared = prepare_case(case("syn_0001", modality, **SMALL), table())
        uids = CaseUIDs.mint(prepared.n_slices)
        who = CaseIdentity(
            "syn_0001", "SYN-X-0001", "SYNTHETIC^syn_0001", uids.study, uids.frame_of_reference, "S1"
        )
        template = dicom_series.series_template(prepared, who, uids, Provenance(checkpoint_id="ab" * 32))
        encoder = SliceEncoder(template, dicom_series.PER_SLICE_TAGS)
        normal = prepared.geometry.matrix[:, 2]
        for k in (0, prepared.n_slices - 1):
            inst = dicom_series.slice_header(
                template, uids.instances[k], k + 1, prepared.positions[k], normal
            )
            pixels = prepared.pixels[k].tobytes()
            own = {t: inst[t] for t in dicom_series.PER_SLICE_TAGS if t != dicom_series.PIXEL_DATA}
            own[dicom_series.PIXEL_DATA] = DataElement(dicom_series.PIXEL_DATA, "OW", pixels)
            encoder.write(tmp_path / "fast.dcm", dicom_series.file_meta(inst), own)
            inst.file_meta = dicom_series.file_meta(inst)
            inst.PixelData = pixels
            reference = io.BytesIO()
            pydicom.dcmwrite(reference, inst, enforce_file_format=True)
            assert (tmp_path / "fast.dcm").read_bytes() == reference.getvalue()


def test_a_sheared_grid_is_refused_with_a_clear_message(tmp_path):
    sheared = (1.0, 0.2, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    with pytest.raises(ExportError, match="not perpendicular"):
        export_dataset(
            ExportConfig(out_dir=tmp_path / "OUT"), [case("syn_0001", direction=sheared, **SMALL)], table()
        )
    assert list(tmp_path.iterdir()) == []
