"""Augmented copies of real scans (label source augmented-real) are not GAN images: their DICOM
headers, the manifest and the README must say what they are, beside generator-made cases in the
same export."""

from __future__ import annotations

import json
from dataclasses import replace

import pydicom

from engine.export import ExportConfig, export_dataset
from engine.synthesis.augmentation import AUGMENTED_REAL
from tests.engine.export_helpers import case, error_lines, run, series_files, table, tool

CHECKPOINT = "fedcba9876543210" * 4


def test_augmented_real_cases_are_labelled_as_augmented_patient_data(tmp_path):
    gan = case("syn_0001", seed=1)
    gan = replace(gan, meta={**gan.meta, "image_from": "generator"})
    augmented = case("syn_0002", seed=2)
    augmented = replace(
        augmented, meta={**augmented.meta, "image_from": AUGMENTED_REAL, "label_source": "augmented-real"}
    )
    result = export_dataset(
        ExportConfig(out_dir=tmp_path / "out", formats=("dicom", "nifti")),
        [gan, augmented],
        table(),
        run_info={"checkpoint_sha256": CHECKPOINT},
    )
    root = result.out_dir

    def headers(case_id):
        series = series_files(root / "dicom" / case_id / "CT_1")
        seg = pydicom.dcmread(root / "dicom" / case_id / "SEG_100" / "seg.dcm", stop_before_pixels=True)
        return [pydicom.dcmread(p, stop_before_pixels=True) for p in series], seg

    gan_slices, gan_seg = headers("syn_0001")
    aug_slices, aug_seg = headers("syn_0002")
    assert all(ds.DerivationDescription.startswith("Synthetic image generated") for ds in gan_slices)
    assert CHECKPOINT in gan_slices[0].DerivationDescription
    for ds in [*aug_slices, aug_seg]:
        text = ds.get("DerivationDescription") or ds.ContributingEquipmentSequence[0].ContributionDescription
        assert text.startswith("Augmented copy of a real patient's scan"), text
        assert "patient data" in text and CHECKPOINT not in text
    assert gan_seg.ContributingEquipmentSequence[0].ContributionDescription.startswith("Synthetic image")
    # still valid DICOM (the description is an LT/ST value)
    assert not error_lines(
        run([tool("dciodvfy"), "-new", str(series_files(root / "dicom" / "syn_0002" / "CT_1")[0])])
    )

    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    by_id = {c["case_id"]: c for c in manifest["cases"]}
    assert by_id["syn_0002"]["meta"]["image_from"] == AUGMENTED_REAL
    assert by_id["syn_0001"]["meta"]["image_from"] == "generator"
    readme = (root / "README.txt").read_text(encoding="utf-8")
    assert "EXCEPT 1 case(s) made by classic augmentation" in readme and "REAL patients' scans" in readme


def test_an_export_without_augmented_cases_says_nothing_about_them(tmp_path):
    result = export_dataset(
        ExportConfig(out_dir=tmp_path / "out", formats=("nifti",)), [case("syn_0001")], table()
    )
    assert "augmentation" not in (result.out_dir / "README.txt").read_text(encoding="utf-8")
