"""The export dialog's 3D Slicer tick box and the summary's "Open in 3D Slicer": a real export of a
generated sample read back with pynrrd, a fake Slicer on PATH that runs the command it is given,
no button without Slicer; the utility study's recommended ratio as the default mix ratio."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nrrd
import numpy as np
import pytest
import SimpleITK as sitk

from gui.dialogs.export_dialog import DEFAULT_RATIO, ExportDialog
from tests.engine.test_viewers import fake_slicer
from tests.gui.test_gallery_panel import errors, generate, open_run, panel, run, trained_run, wait_for_export  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


@pytest.fixture
def no_slicer(tmp_path, monkeypatch):
    """No Slicer anywhere this process looks (PATH, the override, the home folder)."""
    monkeypatch.setenv("PATH", f"/usr/bin{os.pathsep}/bin")
    monkeypatch.delenv("SYNTHVOL_SLICER", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def export_slicer(qtbot, panel, out):  # noqa: F811
    dialog = panel.open_export_dialog()
    assert "slicer" in dialog.format_boxes and not dialog.format_boxes["slicer"].isChecked()  # off by default
    dialog.destination.setText(str(out))
    dialog.set_formats(("nifti", "slicer"))
    dialog.accept()
    wait_for_export(qtbot, panel)
    return panel.summary_dialog


def test_slicer_files_and_open_in_slicer(qtbot, panel, run, tmp_path, monkeypatch, no_slicer, errors):  # noqa: F811
    exe = fake_slicer(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    open_run(qtbot, panel, run)
    generate(qtbot, panel, 2)
    out = tmp_path / "export"
    summary = export_slicer(qtbot, panel, out)
    assert errors == []
    images = sorted((out / "slicer").glob("*.seg.nrrd"))
    assert len(images) == 2 and "3D Slicer" in summary.plain_text() and "slicer/" in summary.plain_text()
    voxels, header = nrrd.read(str(images[0]))
    names = [header[f"Segment{i}_Name"] for i in range(3)]
    assert names == ["CSF", "grey matter", "white matter"]
    image = sitk.ReadImage(str(images[0]).replace(".seg.nrrd", ".nrrd"))
    assert image.GetSize() == voxels.shape and np.isin(np.unique(voxels), [0, 1, 2, 3]).all()

    assert summary.slicer == exe and summary.slicer_button.isVisible() and summary.case_box.isVisible()
    summary.case_box.setCurrentIndex(1)
    command = summary.slicer_command_line()
    case = summary.slicer_cases[1]
    assert command[0] == str(exe) and str(case.image) in command[2] and str(case.segmentation) in command[2]
    log = tmp_path / "slicer_log.json"
    monkeypatch.setenv("FAKE_SLICER_LOG", str(log))
    assert summary.open_in_slicer()  # detached: the fake Slicer runs on its own
    qtbot.waitUntil(log.is_file, timeout=30_000)
    qtbot.wait(200)
    calls = json.loads(log.read_text())["calls"]
    assert calls == [["volume", str(case.image)], ["segmentation", str(case.segmentation)], ["reference", str(case.image)]]
    assert not summary.slicer_error.isVisible()
    summary.close()


def test_no_slicer_no_button(qtbot, panel, run, tmp_path, no_slicer, errors):  # noqa: F811
    open_run(qtbot, panel, run)
    generate(qtbot, panel, 1)
    summary = export_slicer(qtbot, panel, tmp_path / "export")
    assert summary.slicer is None and not summary.slicer_button.isVisible() and summary.slicer_command_line() is None
    assert len(list((tmp_path / "export" / "slicer").glob("*.nrrd"))) == 2 and errors == []
    summary.close()


def test_a_slicer_that_cannot_start_is_said(qtbot, panel, run, tmp_path, monkeypatch, no_slicer):  # noqa: F811
    broken = tmp_path / "bin" / "Slicer"
    fake_slicer(tmp_path / "bin")
    monkeypatch.setenv("SYNTHVOL_SLICER", str(broken))
    open_run(qtbot, panel, run)
    generate(qtbot, panel, 1)
    summary = export_slicer(qtbot, panel, tmp_path / "export")
    broken.unlink()  # uninstalled since the export finished
    assert not summary.open_in_slicer() and "could not be started" in summary.slicer_error.text()
    summary.close()


def test_the_recommended_ratio_is_the_default_mix_ratio(qtbot):
    recommended = {"ratio": 2.0, "label_source": "rebalance", "gain": 0.031, "gain_ci95": [0.01, 0.05]}
    dialog = ExportDialog(None, 3, 0, Path("/tmp/x"), n_real=4, recommended=recommended)
    qtbot.addWidget(dialog)
    assert dialog.ratio.value() == 2.0 and "rebalance" in dialog.ratio_note.text() and "+0.031" in dialog.ratio_note.text()
    dialog.mix.setChecked(True)
    assert dialog.config().mix_synthetic_per_real == 2.0
    none = {"ratio": None, "label_source": None, "gain": -0.01, "reason": "no real+synthetic mix beat real"}
    dialog.set_recommended(none)
    assert dialog.ratio.value() == DEFAULT_RATIO and "no real+synthetic mix beat real" in dialog.ratio_note.text()
    dialog.set_recommended(None)
    assert dialog.ratio.value() == DEFAULT_RATIO and "utility study" in dialog.ratio_note.text()


def test_the_gallery_passes_the_reports_recommendation(qtbot, panel, run):  # noqa: F811
    open_run(qtbot, panel, run)
    generate(qtbot, panel, 1)
    panel.report = {"utility_study": {"recommended": {"ratio": 0.5, "label_source": "train", "gain": 0.02}}}
    dialog = panel.open_export_dialog()
    assert dialog.ratio.value() == 0.5 and "train" in dialog.ratio_note.text()
    dialog.reject()
