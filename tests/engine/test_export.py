"""One CT and one MR case exported in every format, read back with readers we did not write:
dicom3tools (dciodvfy, dcentvfy), SimpleITK/GDCM, dcm2niix, highdicom and dcmqi."""

from __future__ import annotations

import json

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from engine import APP_NAME, __version__
from engine.events import Finished, Progress
from engine.export import ExportConfig, export_dataset
from tests.engine.export_helpers import (
    CT_TABLE,
    MR_TABLE,
    assert_same_image,
    case,
    error_lines,
    read_series,
    run,
    series_files,
    sop_uids_along_normal,
    table,
    tool,
)

CHECKPOINT = "0123456789abcdef" * 4
CASES = {"syn_0001": ("CT", "CT_1", CT_TABLE), "syn_0002": ("MR", "MR_1", MR_TABLE)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Export the CT and the MR case into two exports (each label table belongs to one modality)."""
    base = tmp_path_factory.mktemp("export")
    out = {}
    for case_id, (modality, _, names) in CASES.items():
        events = []
        config = ExportConfig(out_dir=base / case_id, dataset_name="Synth Vol-Test!", dataset_id=502)
        result = export_dataset(
            config,
            [case(case_id, modality, seed=3)],
            table(names),
            on_event=events.append,
            run_info={"run_folder": "/runs/demo", "checkpoint_sha256": CHECKPOINT},
            quality={"fid": 12.5},
        )
        out[case_id] = (result, events)
    return out


def _case(exported, case_id):
    result, events = exported[case_id]
    modality, series, names = CASES[case_id]
    root = result.out_dir
    return root, root / "dicom" / case_id / series, root / "dicom" / case_id / "SEG_100" / "seg.dcm", names


def _nifti(root, case_id, what):
    return sitk.ReadImage(str(root / "nifti" / f"{case_id}_{what}.nii.gz"))


def _all_files(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_layout_and_result(exported):
    for case_id, (result, events) in exported.items():
        root = result.out_dir
        assert root.name == case_id and (root / "README.txt").exists()
        assert "synthetic" in (root / "README.txt").read_text().lower()
        assert "not for diagnostic" in (root / "README.txt").read_text().lower()
        nn = root / "nnUNet_raw" / "Dataset502_SynthVolTest"
        assert (nn / "imagesTr" / f"{case_id}_0000.nii.gz").exists()
        assert (nn / "labelsTr" / f"{case_id}.nii.gz").exists()
        files = _all_files(root)
        assert result.files == len(files) == 12 + 1 + 2 + 2 + 3  # slices, SEG, NIfTI, nnU-Net, json/txt
        assert result.bytes_written == sum(p.stat().st_size for p in files)
        assert not list(root.parent.glob("*.partial-*"))
        progress = [e for e in events if isinstance(e, Progress)]
        assert [p.done for p in progress] == sorted(p.done for p in progress)
        assert progress[-1].done == progress[-1].total == len(files)
        assert isinstance(events[-1], Finished) and events[-1].result is result


def test_dciodvfy_reports_no_error_on_any_file(exported):
    dciodvfy = tool("dciodvfy")
    for case_id in CASES:
        root, series, seg, _ = _case(exported, case_id)
        for path in [*series_files(series), seg]:
            report = run([dciodvfy, "-new", str(path)])
            assert not error_lines(report), f"{path.name}:\n{report}"


def test_dcentvfy_finds_the_case_consistent(exported):
    dcentvfy = tool("dcentvfy")
    for case_id in CASES:
        root, series, seg, _ = _case(exported, case_id)
        report = run([dcentvfy, *map(str, series_files(series)), str(seg)])
        assert not error_lines(report), report


def test_simpleitk_series_equals_nifti(exported):
    for case_id, (modality, _, _) in CASES.items():
        root, series, _, _ = _case(exported, case_id)
        dicom_image = read_series(series)
        nifti_image = _nifti(root, case_id, "image")
        assert_same_image(dicom_image, nifti_image)
        expected = sitk.GetArrayFromImage(case(case_id, modality, seed=3).load()[0])
        got = sitk.GetArrayFromImage(nifti_image).astype(np.float64)
        if modality == "CT":
            np.testing.assert_allclose(got, np.rint(expected), atol=0)  # HU, rounded
        else:
            scale = json.loads((root / "manifest.json").read_text())["cases"][0]["pixels"]["scale"]
            np.testing.assert_allclose(got / scale, expected, atol=0.5 / scale + 1e-6)


def test_nifti_geometry_is_the_input_geometry(exported):
    root, _, _, _ = _case(exported, "syn_0001")
    source_image, source_label = case("syn_0001", seed=3).load()
    for what, ref in (("image", source_image), ("label", source_label)):
        img = _nifti(root, "syn_0001", what)
        np.testing.assert_allclose(img.GetSpacing(), ref.GetSpacing(), atol=1e-5)
        np.testing.assert_allclose(img.GetOrigin(), ref.GetOrigin(), atol=1e-4)
        np.testing.assert_allclose(img.GetDirection(), ref.GetDirection(), atol=1e-5)
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(_nifti(root, "syn_0001", "label")), sitk.GetArrayFromImage(source_label)
    )


def test_dcm2niix_conversion_equals_nifti(exported, tmp_path):
    dcm2niix = tool("dcm2niix")
    for case_id in CASES:
        root, series, _, _ = _case(exported, case_id)
        out = tmp_path / case_id
        out.mkdir()
        report = run([dcm2niix, "-z", "y", "-f", "x", "-o", str(out), str(series)])
        converted = sorted(out.glob("*.nii.gz"))
        assert len(converted) == 1, f"dcm2niix split or failed the series:\n{report}"
        theirs = nib.as_closest_canonical(nib.load(converted[0]))
        ours = nib.as_closest_canonical(nib.load(root / "nifti" / f"{case_id}_image.nii.gz"))
        assert theirs.shape == ours.shape
        np.testing.assert_allclose(theirs.affine, ours.affine, atol=1e-3)
        np.testing.assert_array_equal(np.asarray(theirs.dataobj), np.asarray(ours.dataobj))


def test_highdicom_reads_the_seg_back_as_the_nifti_label(exported):
    for case_id in CASES:
        root, series, seg_path, names = _case(exported, case_id)
        seg = hd.seg.segread(seg_path)
        assert seg.segmentation_type.value == "BINARY"
        uids = sop_uids_along_normal(series)
        decoded = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=uids, combine_segments=True, skip_overlap_checks=True
        )
        label = sitk.GetArrayFromImage(_nifti(root, case_id, "label"))
        np.testing.assert_array_equal(decoded, label)
        assert seg.number_of_frames == 3 * len(uids)  # omit_empty_frames=False
        assert sorted(seg.segment_numbers) == [v for v in names if v]
        for number in seg.segment_numbers:
            assert seg.get_segment_description(number).segment_label == names[number]


def test_dcmqi_reads_the_seg_back_as_the_nifti_label(exported, tmp_path):
    segimage2itkimage = tool("segimage2itkimage")
    for case_id in CASES:
        root, _, seg_path, _ = _case(exported, case_id)
        out = tmp_path / case_id
        out.mkdir()
        args = [segimage2itkimage, "--inputDICOM", str(seg_path), "--outputDirectory", str(out), "-t", "nii"]
        report = run([*args, "--mergeSegments"])
        produced = sorted(out.glob("*.nii*"))
        assert len(produced) == 1, report
        assert_same_image(sitk.ReadImage(str(produced[0])), _nifti(root, case_id, "label"))


def test_every_instance_is_marked_synthetic_and_templated(exported):
    seen_uids = set()
    for case_id, (modality, _, _) in CASES.items():
        root, series, seg_path, _ = _case(exported, case_id)
        manifest = json.loads((root / "manifest.json").read_text())
        uids = manifest["cases"][0]["uids"]
        for path in [*series_files(series), seg_path]:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            assert ds.SyntheticData == "YES"
            assert ds.PatientName == f"SYNTHETIC^{case_id}"
            assert ds.PatientID == manifest["cases"][0]["patient_id"]
            assert ds.PatientID.startswith("SYN-")
            assert ds.PatientIdentityRemoved == "YES" and ds.DeidentificationMethod
            assert ds.ContentQualification == "RESEARCH"
            assert ds.StudyInstanceUID == uids["study_instance_uid"]
            assert ds.FrameOfReferenceUID == uids["frame_of_reference_uid"]
            for uid in (ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.FrameOfReferenceUID):
                assert uid.startswith("2.25.")
            assert ds.SOPInstanceUID not in seen_uids
            seen_uids.add(ds.SOPInstanceUID)
            equipment = ds.ContributingEquipmentSequence
            purposes = [item.PurposeOfReferenceCodeSequence[0].CodeValue for item in equipment]
            assert purposes[0] == "109100" and "109101" not in purposes
            assert equipment[0].Manufacturer == APP_NAME
            assert __version__ in equipment[0].SoftwareVersions
            assert CHECKPOINT in equipment[0].ContributionDescription
            if ds.Modality == "SEG":
                assert ds.SeriesInstanceUID == uids["seg_series_instance_uid"]
                continue
            assert ds.SOPInstanceUID in uids["sop_instance_uids"]
            assert ds.SeriesInstanceUID == uids["series_instance_uid"]
            assert list(ds.ImageType) == ["DERIVED", "SECONDARY", "AXIAL" if modality == "CT" else "OTHER"]
            assert ds.BurnedInAnnotation == "NO"
            assert all(len(str(v)) <= 16 for v in [*ds.PixelSpacing, *ds.ImagePositionPatient])
            if modality == "CT":
                assert (ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType) == (0, 1, "HU")
                assert ds.PixelRepresentation == 1
            else:
                assert "RescaleSlope" not in ds and ds.ScanningSequence == "RM"
            lo, hi = ds.WindowCenter - ds.WindowWidth / 2, ds.WindowCenter + ds.WindowWidth / 2
            assert lo < hi and (modality != "CT" or lo <= -900)  # the window spans the air and tissue
    assert len(seen_uids) == 2 * 13


def test_nnunet_dataset_is_valid_with_consecutive_labels(exported):
    for case_id, (modality, _, names) in CASES.items():
        root, _, _, _ = _case(exported, case_id)
        nn = root / "nnUNet_raw" / "Dataset502_SynthVolTest"
        data = json.loads((nn / "dataset.json").read_text())
        assert data["channel_names"] == {"0": "CT" if modality == "CT" else "MRI"}
        assert data["file_ending"] == ".nii.gz"
        assert data["numTraining"] == len(list((nn / "imagesTr").glob("*_0000.nii.gz"))) == 1
        assert data["labels"]["background"] == 0
        assert sorted(data["labels"].values()) == list(range(len(names)))
        label = sitk.ReadImage(str(nn / "labelsTr" / f"{case_id}.nii.gz"))
        image = sitk.ReadImage(str(nn / "imagesTr" / f"{case_id}_0000.nii.gz"))
        assert_same_image(image, _nifti(root, case_id, "image"))
        assert set(np.unique(sitk.GetArrayFromImage(label))) <= set(data["labels"].values())
        assert label.GetSize() == image.GetSize()


def test_manifest_records_provenance_uids_checksums_and_labels(exported):
    import hashlib

    root, series, _, names = _case(exported, "syn_0001")
    m = json.loads((root / "manifest.json").read_text())
    assert m["application"] == {"name": APP_NAME, "version": __version__}
    assert m["run_info"] == {"run_folder": "/runs/demo", "checkpoint_sha256": CHECKPOINT}
    assert m["quality"] == {"fid": 12.5} and m["export"]["time"]
    assert m["export"]["config"]["out_dir"] == str(root)
    entry = m["cases"][0]
    assert entry["meta"] == {"label_source": "train", "seed": 3, "source_case": "train_syn_0001"}
    assert entry["synthetic"] is True and entry["modality"] == "CT"
    assert len(entry["uids"]["sop_instance_uids"]) == 12
    assert sorted(entry["uids"]["sop_instance_uids"]) == sorted(sop_uids_along_normal(series))
    image = sitk.GetArrayFromImage(_nifti(root, "syn_0001", "image"))
    label = sitk.GetArrayFromImage(_nifti(root, "syn_0001", "label"))
    assert entry["image_sha256"] == hashlib.sha256(image.astype("<i2").tobytes()).hexdigest()
    assert entry["label_sha256"] == hashlib.sha256(label.astype("u1").tobytes()).hexdigest()
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert set(entry["files"]) <= on_disk and len(entry["files"]) == 12 + 1 + 2 + 2
    table_json = {e["value"]: e for e in m["label_table"]}
    assert {v: e["name"] for v, e in table_json.items()} == names
    assert table_json[1]["snomed"]["type"]["code"] == "10200004"  # liver
    assert table_json[3]["snomed"]["category"]["code"] == "49755003"  # tumour: abnormal structure
    assert all(e["segment_number"] == v for v, e in table_json.items() if v)
