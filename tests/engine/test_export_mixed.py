"""A mixed nnU-Net set: all real cases plus round(ratio * n_real) synthetic ones, real ids prefixed;
real cases never appear as DICOM or in nifti/."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from engine.errors import ExportError
from engine.export import ExportConfig, export_dataset
from tests.engine.export_helpers import case, table

SMALL = {"size_xyz": (16, 12, 4)}


def _synthetic(n):
    return [case(f"syn_{i:04d}", seed=i, **SMALL) for i in range(1, n + 1)]


def _real(n):
    return [case(f"pat{i:02d}", synthetic=False, seed=100 + i, **SMALL) for i in range(1, n + 1)]


def test_mixed_set_holds_all_real_cases_and_the_ratio_of_synthetic_ones(tmp_path):
    config = ExportConfig(out_dir=tmp_path / "OUT", mix_synthetic_per_real=1.5, dataset_name="Mixed")
    result = export_dataset(config, _synthetic(4), table(), real_cases=_real(2))
    root = result.out_dir
    nn = root / "nnUNet_raw" / "Dataset501_Mixed"
    images = sorted(p.name for p in (nn / "imagesTr").iterdir())
    assert images == [
        "real_pat01_0000.nii.gz",
        "real_pat02_0000.nii.gz",
        "syn_0001_0000.nii.gz",
        "syn_0002_0000.nii.gz",
        "syn_0003_0000.nii.gz",
    ]  # round(1.5 * 2) = 3 synthetic
    assert sorted(p.name for p in (nn / "labelsTr").iterdir()) == [n.replace("_0000", "") for n in images]
    data = json.loads((nn / "dataset.json").read_text())
    assert data["numTraining"] == 5 and "real" in data["description"]
    assert sorted(p.name for p in (root / "dicom").iterdir()) == [f"syn_{i:04d}" for i in range(1, 5)]
    assert not any("pat" in p.name for p in (root / "nifti").iterdir())

    manifest = json.loads(result.manifest_path.read_text())
    real = [c for c in manifest["cases"] if not c["synthetic"]]
    assert [c["nnunet_id"] for c in real] == ["real_pat01", "real_pat02"]
    assert all("uids" not in c and "patient_id" not in c for c in real)
    assert manifest["nnunet"]["n_real"] == 2 and manifest["nnunet"]["n_synthetic"] == 3
    syn4 = next(c for c in manifest["cases"] if c["case_id"] == "syn_0004")
    assert "nnunet_id" not in syn4 and any(f.startswith("dicom/") for f in syn4["files"])
    assert result.n_cases == 6

    real_image = sitk.ReadImage(str(nn / "imagesTr" / "real_pat01_0000.nii.gz"))
    expected = sitk.GetArrayFromImage(_real(1)[0].load()[0])
    np.testing.assert_array_equal(sitk.GetArrayFromImage(real_image), np.rint(expected))


def test_ratio_is_capped_by_the_synthetic_cases_and_none_means_all(tmp_path):
    capped = export_dataset(
        ExportConfig(out_dir=tmp_path / "A", formats=("nnunet",), mix_synthetic_per_real=10.0),
        _synthetic(2),
        table(),
        real_cases=_real(1),
    )
    data = json.loads((capped.out_dir / "nnUNet_raw" / "Dataset501_SynthVol" / "dataset.json").read_text())
    assert data["numTraining"] == 3
    everything = export_dataset(
        ExportConfig(out_dir=tmp_path / "B", formats=("nnunet",)), _synthetic(2), table(), real_cases=_real(2)
    )
    assert len(list((everything.out_dir / "nnUNet_raw" / "Dataset501_SynthVol" / "imagesTr").iterdir())) == 4
    assert sorted(p.name for p in everything.out_dir.iterdir()) == [
        "README.txt",
        "manifest.json",
        "nnUNet_raw",
    ]


def test_an_nnunet_set_cannot_mix_modalities(tmp_path):
    with pytest.raises(ExportError, match="one modality"):
        export_dataset(
            ExportConfig(out_dir=tmp_path / "OUT"),
            _synthetic(1),
            table(),
            real_cases=[case("mr01", "MR", synthetic=False, **SMALL)],
        )
    assert list(tmp_path.iterdir()) == []
