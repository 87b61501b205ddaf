"""A user's path end to end: a real-looking DICOM CT tree whose headers (and folder names) carry
patient identifiers -> scan -> train -> generate -> export; the export is read back with tools we
did not write, and no identifier appears in any exported byte."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from tests.engine.export_helpers import error_lines, read_series, tool
from tests.engine.test_export_leak import IDENTIFIERS, PRIVATE_VALUE, _write_source_series
from tests.engine.training_helpers import TINY_MODEL

REPO = Path(__file__).resolve().parents[2]
PATIENT_FOLDERS = ("PAT_Doe_Janet_MRN77345219", "PAT_Roe_Richard_MRN11223344")


def _phantom(seed: int) -> tuple[sitk.Image, sitk.Image]:
    """A CT-like phantom (HU) with body, organ and bone labels."""
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[0:14, 0:56, 0:52].astype(np.float32)
    cy, cx = 28 + rng.uniform(-2, 2), 26 + rng.uniform(-2, 2)
    body = ((y - cy) / 22) ** 2 + ((x - cx) / 20) ** 2 < 1
    organ = ((y - cy + 4) / 8) ** 2 + ((x - cx - 5) / 6) ** 2 + ((z - 7) / 9) ** 2 < 1
    bone = (((y - cy) / 20) ** 2 + ((x - cx) / 18) ** 2 > 0.8) & body
    label = np.zeros(body.shape, np.uint8)
    label[body], label[organ], label[bone] = 1, 2, 3
    hu = np.full(body.shape, -1000.0, np.float32)
    hu[label == 1], hu[label == 2], hu[label == 3] = 40, 120, 700
    hu += rng.normal(0, 15, hu.shape)
    image = sitk.GetImageFromArray(hu.astype(np.int16))
    image.SetSpacing((0.8, 0.8, 2.5))
    image.SetOrigin((-20.0, -22.0, 10.0 * seed))
    lab = sitk.GetImageFromArray(label)
    lab.CopyInformation(image)
    return image, lab


def _cli(*args, timeout=900):
    return subprocess.run([sys.executable, "main.py", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def dicom_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dicom tree")
    uids = []
    for i, name in enumerate(PATIENT_FOLDERS):
        image, label = _phantom(i)
        uids += _write_source_series(root / name, image)
        sitk.WriteImage(label, str(root / f"{name}.nii.gz"))  # a label named after the series folder
    (root / "labels.json").write_text(json.dumps({"1": "body", "2": "liver", "3": "bone"}))
    return root, uids


@pytest.mark.slow
def test_dicom_ct_with_identifiers_to_a_clean_synthetic_export(dicom_dataset, tmp_path):
    root, source_uids = dicom_dataset
    scan = _cli("scan", str(root), "--json")
    assert scan.returncode == 0, scan.stderr
    cases = json.loads(scan.stdout)["cases"]
    assert sorted(c["id"] for c in cases) == sorted(PATIENT_FOLDERS)
    assert all(c["status"] == "ok" and c["modality"] == "CT" and c["labels"] == [0, 1, 2, 3] for c in cases)

    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({
        "image_size": 64, "batch_size": 2, "base_channels": 8, "model_overrides": TINY_MODEL, "log_every": 2,
        "val_every": 4, "preview_every": 4, "val_slices": 4, "threads": 1, "cache_dir": str(tmp_path / "cache"),
    }))
    run = tmp_path / "run"
    out = _cli("train", "--data", str(root), "--run", str(run), "--config", str(settings), "--iterations", "8")
    assert out.returncode == 0, out.stderr
    assert json.loads((run / "data_manifest.json").read_text())["split"]["mode"] == "cases"

    export = tmp_path / "export"
    out = _cli("generate", "--run", str(run), "--out", str(export), "--count", "2", "--label-source", "augment",
               "--format", "dicom,nifti,nnunet", "--mix-real", "1", "--seed", "3")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr

    # read back with tools we did not write
    case_dirs = sorted((export / "dicom").iterdir())
    assert len(case_dirs) == 2
    for case_dir in case_dirs:
        series = case_dir / "CT_1"
        files = sorted(series.glob("*.dcm"))
        for f in (files[0], files[-1], case_dir / "SEG_100" / "seg.dcm"):
            report = subprocess.run([tool("dciodvfy"), "-new", str(f)], capture_output=True, text=True).stderr
            assert not error_lines(report), f"{f}: {error_lines(report)}"
        nifti = sitk.ReadImage(str(export / "nifti" / f"{case_dir.name}_image.nii.gz"))
        from_dicom = read_series(series)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(from_dicom), sitk.GetArrayFromImage(nifti))
        for f in [*files, case_dir / "SEG_100" / "seg.dcm"]:
            assert pydicom.dcmread(f, stop_before_pixels=True).SyntheticData == "YES"
    nn = next((export / "nnUNet_raw").iterdir())
    names = sorted(p.name for p in (nn / "imagesTr").iterdir())
    # the one real training case (the other patient is held out) + 1 synthetic per real case
    assert len(names) == 2 and sum(n.startswith("real_") for n in names) == 1, names
    assert json.loads((nn / "dataset.json").read_text())["channel_names"] == {"0": "CT"}

    # no identifier, folder name, source UID or private value in any exported byte
    needles = dict(IDENTIFIERS)
    needles.update({f"folder {n}": n for n in PATIENT_FOLDERS})
    needles.update({f"mrn {n}": n.split("_")[-1] for n in PATIENT_FOLDERS})
    needles.update({"private": PRIVATE_VALUE, "dataset path": str(root), "run path": str(run)})
    needles.update({f"uid {i}": u for i, u in enumerate(source_uids)})
    leaks = []
    for path in [p for p in export.rglob("*") if p.is_file()]:
        blob = path.read_bytes()
        blobs = [blob, gzip.decompress(blob)] if path.suffix == ".gz" else [blob]
        for what, needle in needles.items():
            if any(needle.encode() in b or needle.replace("^", " ").encode() in b for b in blobs):
                leaks.append(f"{path.relative_to(export)}: {what}")
    assert not leaks, "\n".join(leaks)
