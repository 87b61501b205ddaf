"""`python main.py scan DATA [--json]` as a user runs it: exit codes, the JSON of the CLI contract,
the table, and never a Python traceback, whatever the folder holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from tests.engine.data_factory import phantom, phantom_label, truncate, write_dicom_series, write_volume

REPO = Path(__file__).resolve().parents[2]
CASE_KEYS = {"id", "image", "label", "modality", "size", "spacing", "labels", "status", "error"}


def run_scan(*args, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "scan", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding=(env or {}).get("PYTHONIOENCODING", "utf-8"),
        errors="replace",
        timeout=120,
        env=None if env is None else {**os.environ, **env},
    )
    for stream in (out.stdout, out.stderr):
        assert "Traceback" not in stream, stream
    return out


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """Good, unlabeled and broken cases side by side, in a folder with spaces and umlauts."""
    root = tmp_path_factory.mktemp("cli") / "Studie Ü Łódź"
    shape = (5, 14, 11)  # x, y, z = 11, 14, 5: every axis different
    write_volume(root / "gut.nii.gz", phantom(shape, "MR"), spacing=(0.7, 0.8, 3.0), origin=(1, 2, 3))
    write_volume(
        root / "gut_seg.nii.gz", phantom_label(shape, (1, 4)), spacing=(0.7, 0.8, 3.0), origin=(1, 2, 3)
    )
    write_volume(root / "nur Bild.nrrd", phantom(shape))
    write_volume(root / "kaputt.nii.gz", phantom(shape))
    truncate(root / "kaputt.nii.gz")
    write_volume(root / "halb.mha", phantom(shape), compress=False)
    truncate(root / "halb.mha", 0.8)
    (root / "notiz.nii").write_text("kein Bild", encoding="utf-8")
    write_dicom_series(root / "Serie 2", phantom((4, 12, 10)))
    (root / "labels.json").write_text(json.dumps({"1": "Leber", "4": "Läsion"}), encoding="utf-8")
    return root


def test_json_follows_the_cli_contract(mixed):
    out = run_scan(mixed, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # stdout holds the JSON and nothing else
    assert data["labels"] == {"0": "background", "1": "Leber", "4": "Läsion"}
    cases = {Path(c["image"]).name: c for c in data["cases"]}
    assert set(cases) == {"gut.nii.gz", "nur Bild.nrrd", "kaputt.nii.gz", "halb.mha", "notiz.nii", "Serie 2"}
    for c in data["cases"]:
        assert CASE_KEYS <= set(c), c
        assert c["status"] in ("ok", "error")
        assert (c["error"] is None) == (c["status"] == "ok")
    good = cases["gut.nii.gz"]
    assert good["status"] == "ok" and Path(good["label"]).name == "gut_seg.nii.gz"
    assert good["labels"] == [0, 1, 4]
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(mixed / "gut.nii.gz"))
    reader.ReadImageInformation()
    assert good["size"] == list(reader.GetSize()) == [11, 14, 5]  # (x, y, z)
    assert np.allclose(good["spacing"], reader.GetSpacing()) and np.allclose(good["spacing"], [0.7, 0.8, 3.0])
    unlabeled = cases["nur Bild.nrrd"]
    assert unlabeled["status"] == "ok" and unlabeled["label"] is None and unlabeled["labels"] == []
    series = cases["Serie 2"]
    assert series["status"] == "ok" and series["modality"] == "CT" and series["size"] == [10, 12, 4]
    for name in ("kaputt.nii.gz", "halb.mha", "notiz.nii"):
        assert cases[name]["status"] == "error"
        assert name in cases[name]["error"]
    assert "truncated" in cases["kaputt.nii.gz"]["error"] or "ends early" in cases["kaputt.nii.gz"]["error"]
    assert "truncated" in cases["halb.mha"]["error"]


def test_table_lists_cases_problems_and_a_summary(mixed):
    out = run_scan(mixed)
    assert out.returncode == 0
    text = out.stdout
    for word in ("gut", "nur Bild", "Serie 2", "kaputt", "11x14x5", "0,1,4", "Skipped:", "Leber"):
        assert word in text, word
    assert "1 case ready, 2 unlabeled, 3 skipped" in text


def test_quick_scan_reads_headers_only(mixed):
    out = run_scan(mixed, "--json", "--quick")
    assert out.returncode == 0
    cases = {Path(c["image"]).name: c for c in json.loads(out.stdout)["cases"]}
    assert cases["gut.nii.gz"]["status"] == "ok"
    assert cases["notiz.nii"]["status"] == "error"


def test_demo_dataset():
    out = run_scan("resources/demo", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["labels"] == {"0": "background", "1": "CSF", "2": "grey matter", "3": "white matter"}
    (case,) = data["cases"]
    assert case["status"] == "ok" and case["modality"] == "MR" and case["labels"] == [0, 1, 2, 3]
    image = (
        sitk.ReadImage(case["image"])
        if Path(case["image"]).is_absolute()
        else sitk.ReadImage(str(REPO / case["image"]))
    )
    assert case["size"] == list(image.GetSize())
    assert np.allclose(case["spacing"], image.GetSpacing())


def test_no_labeled_case_exits_2(tmp_path):
    write_volume(tmp_path / "nur bild.nii.gz", phantom((4, 10, 10)))
    out = run_scan(tmp_path)
    assert out.returncode == 2
    assert "0 cases ready, 1 unlabeled" in out.stdout


def test_empty_folder_exits_2_with_a_message(tmp_path):
    out = run_scan(tmp_path / ".." / tmp_path.name)
    assert out.returncode == 2
    assert "no image files found" in out.stdout + out.stderr
    out = run_scan(tmp_path, "--json")
    assert out.returncode == 2 and json.loads(out.stdout)["cases"] == []


def test_missing_path_is_a_message_not_a_traceback(tmp_path):
    out = run_scan(tmp_path / "gibt es nicht")
    assert out.returncode != 0
    assert "no such file or folder" in out.stderr
    assert str(tmp_path / "gibt es nicht") in out.stderr


def test_a_single_file_can_be_scanned(mixed):
    out = run_scan(mixed / "gut.nii.gz", "--json")
    assert out.returncode == 0
    (case,) = json.loads(out.stdout)["cases"]
    assert Path(case["label"]).name == "gut_seg.nii.gz" and case["status"] == "ok"


def test_broken_dataset_json_does_not_stop_the_scan(tmp_path):
    (tmp_path / "dataset.json").write_text("{ oops", encoding="utf-8")
    write_volume(tmp_path / "a.nii.gz", phantom((4, 10, 10)))
    write_volume(tmp_path / "a_seg.nii.gz", phantom_label((4, 10, 10)))
    out = run_scan(tmp_path, "--json")
    assert out.returncode == 0
    data = json.loads(out.stdout)
    assert [c["status"] for c in data["cases"]] == ["ok"]
    assert any("dataset.json" in n for n in data["notes"])


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
def test_a_console_that_cannot_show_the_names_gets_no_traceback(mixed, encoding):
    out = run_scan(mixed, env={"PYTHONIOENCODING": encoding})
    assert out.returncode == 0
    assert "1 case ready" in out.stdout
    out = run_scan(mixed, "--json", env={"PYTHONIOENCODING": encoding})
    assert out.returncode == 0
    data = json.loads(out.stdout)  # still valid JSON, names \u-escaped
    assert data["labels"]["4"] == "Läsion"
    assert "Łódź" in data["root"]
