"""Gallery panel: generate from a real (tiny) trained run, thumbnails, compare with the real case,
select, export through the dialog, overwrite question, cancel, errors, the Quality view."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from engine.resources import DEMO_DATASET
from engine.synthesis import Gallery
from engine.synthesis.generate import VOLUME_UNITS
from engine.training.trainer import train
from gui.panels import gallery_jobs as jobs
from gui.panels.gallery_panel import GalleryPanel
from gui.widgets import error_dialog
from tests.engine.training_helpers import tiny_config

pytestmark = pytest.mark.slow
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("trained") / "run"
    train(tiny_config(run))
    return run


@pytest.fixture
def run(trained_run, tmp_path) -> Path:
    """A private copy of the trained run: each test owns its gallery."""
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy, ignore=shutil.ignore_patterns("gallery", "quality"))
    return copy


@pytest.fixture
def errors(monkeypatch):
    calls = []
    monkeypatch.setattr(error_dialog, "show_error", lambda parent, title, message, details=None: calls.append((title, message)))
    return calls


@pytest.fixture
def panel(qtbot, errors):
    p = GalleryPanel()
    qtbot.addWidget(p)
    p.resize(1300, 820)
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.stop_and_wait()


def idle(qtbot, panel, timeout=WAIT_MS):
    """Wait until no worker runs, then deliver the signals they queued before they ended."""
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=timeout)
    qtbot.wait(30)


def open_run(qtbot, panel, run):
    panel.set_run(run)
    idle(qtbot, panel)


def generate(qtbot, panel, count):
    panel.form.count.setValue(count)
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.grid.count() >= count, timeout=WAIT_MS)
    idle(qtbot, panel)


def wait_for_export(qtbot, panel):
    qtbot.waitUntil(lambda: panel.summary_dialog is not None, timeout=WAIT_MS)
    idle(qtbot, panel)


def click_thumbnail(qtbot, panel, row):
    rect = panel.grid.list.visualItemRect(panel.grid.list.item(row))
    qtbot.mouseClick(panel.grid.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_set_run_fills_the_panel(qtbot, panel, run):
    assert not panel.generate_button.isEnabled() and not panel.export_button.isEnabled()
    open_run(qtbot, panel, run)
    assert str(run) in panel.run_label.text() and "MR" in panel.run_label.text()
    assert panel.generate_button.isEnabled()
    rare = [panel.form.rare_label.itemText(i) for i in range(panel.form.rare_label.count())]
    assert rare == ["1  CSF", "2  grey matter", "3  white matter"]
    assert panel.grid.count() == 0 and not panel.export_button.isEnabled()
    panel.form.set_source("rebalance")
    assert panel.form.config(run).rare_label == 3
    panel.form.set_source("folder")
    panel.generate()  # no folder chosen: the engine's validation message, nothing started
    assert "folder" in panel.form.error.text() and not panel.is_busy()


def test_generate_shows_thumbnails_and_compares_with_the_real_case(qtbot, panel, run, errors):
    open_run(qtbot, panel, run)
    generate(qtbot, panel, 2)
    assert panel.grid.ids() == ["syn_0001", "syn_0002"]
    assert [i.id for i in Gallery(run / "gallery").items()] == ["syn_0001", "syn_0002"]
    assert "training" in panel.grid.list.item(0).text() and "icbm152_2009a" in panel.grid.list.item(0).text()
    assert not panel.progress.isVisible() and panel.generate_button.isEnabled()
    assert panel.form.seed.value() == 1  # the next Generate makes new samples

    click_thumbnail(qtbot, panel, 1)
    qtbot.waitUntil(lambda: panel._shown_id == "syn_0002", timeout=WAIT_MS)
    idle(qtbot, panel)
    left, right = panel.compare.left, panel.compare.right
    assert left.has_volume() and right.has_volume()
    assert left.overlay_rgba() is not None and left.overlay_rgba()[..., 3].max() > 0
    assert right.overlay_rgba() is not None and right.overlay_rgba()[..., 3].max() > 0
    assert "syn_0002" in panel.compare.left_caption.text()
    assert panel.compare.right_caption.text() == "Real icbm152_2009a with its own label map"
    assert left.slice_index == right.slice_index
    assert errors == []


def test_a_folder_label_map_has_no_real_case_and_says_so(qtbot, panel, run, tmp_path, errors):
    maps = tmp_path / "my_maps"
    maps.mkdir()
    shutil.copy(DEMO_DATASET / "labelsTr" / "icbm152_2009a.nii.gz", maps / "brain_edit.nii.gz")
    open_run(qtbot, panel, run)
    panel.form.set_source("folder")
    panel.form.folder.setText(str(maps))
    generate(qtbot, panel, 1)
    assert "folder" in panel.grid.list.item(0).text() and "brain_edit" in panel.grid.list.item(0).text()
    qtbot.waitUntil(lambda: panel._shown_id == "syn_0001", timeout=WAIT_MS)
    idle(qtbot, panel)
    assert panel.compare.left.has_volume() and not panel.compare.right.has_volume()
    assert panel.compare.right_caption.text().startswith("No real case: this label map came from your folder")
    assert errors == []


def test_a_damaged_sample_shows_as_unreadable_beside_the_others(qtbot, panel, run):
    bad = run / "gallery" / "syn_0001"
    bad.mkdir(parents=True)
    (bad / "case.json").write_text(json.dumps({"id": "syn_0001", "modality": "MR"}))
    (bad / "image.nii.gz").write_bytes(b"not a volume")
    open_run(qtbot, panel, run)
    assert panel.grid.ids() == ["syn_0001"] and "(unreadable)" in panel.grid.list.item(0).text()


def test_select_and_deselect(qtbot, panel, run):
    open_run(qtbot, panel, run)
    generate(qtbot, panel, 2)
    assert panel.grid.selected_ids() == [] and panel.export_button.text() == "Export…"
    qtbot.mouseClick(panel.grid.all_button, Qt.MouseButton.LeftButton)
    assert panel.grid.selected_ids() == ["syn_0001", "syn_0002"]
    assert panel.export_button.text() == "Export 2 selected…"
    qtbot.mouseClick(panel.grid.none_button, Qt.MouseButton.LeftButton)
    assert panel.grid.selected_ids() == []
    box = panel.grid.delegate.check_rect(panel.grid.list.visualItemRect(panel.grid.list.item(1)))
    qtbot.mouseClick(panel.grid.list.viewport(), Qt.MouseButton.LeftButton, pos=box.center())
    assert panel.grid.selected_ids() == ["syn_0002"] and panel.export_button.text() == "Export 1 selected…"


def export_through_dialog(qtbot, panel, out, **fields):
    dialog = panel.open_export_dialog()
    assert dialog is not None and dialog.isVisible()
    dialog.destination.setText(str(out))
    if "formats" in fields:
        dialog.set_formats(fields["formats"])
    if fields.get("mix"):
        dialog.mix.setChecked(True)
        dialog.ratio.setValue(fields["mix"])
    if "selected" in fields:
        (dialog.selected_radio if fields["selected"] else dialog.all_radio).setChecked(True)
    dialog.dataset_name.setText("GalleryTest")
    dialog.dataset_id.setValue(577)
    dialog.accept()
    return dialog


def test_export_through_the_dialog(qtbot, panel, run, tmp_path, monkeypatch, errors):
    opened = []
    monkeypatch.setattr("gui.dialogs.export_summary.QDesktopServices.openUrl", lambda url: opened.append(url))
    open_run(qtbot, panel, run)
    generate(qtbot, panel, 2)
    panel.report = write_report(jobs.report_folder(run))  # the run's own report goes into manifest.json
    panel.grid.set_checked("syn_0002", True)
    out = tmp_path / "export"
    dialog = export_through_dialog(qtbot, panel, out, mix=1.0, selected=True)
    assert dialog.result() == dialog.DialogCode.Accepted and not dialog.overwrite
    wait_for_export(qtbot, panel)
    assert errors == []
    assert (out / "dicom" / "syn_0002").is_dir() and not (out / "dicom" / "syn_0001").exists()
    assert (out / "nifti" / "syn_0002_image.nii.gz").is_file()
    nnunet = out / "nnUNet_raw" / "Dataset577_GalleryTest"
    assert (nnunet / "dataset.json").is_file()
    assert len(list((nnunet / "labelsTr").glob("*.nii.gz"))) == 2  # the sample and the real training case
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["quality"] == panel.report
    text = panel.summary_dialog.plain_text()
    assert "1 synthetic case" in text and "1 real training case" in text and str(out) in text
    qtbot.mouseClick(panel.summary_dialog.open_button, Qt.MouseButton.LeftButton)
    assert opened and Path(opened[0].toLocalFile()) == out
    panel.summary_dialog.close()
    assert panel.export_button.isEnabled() and not panel.progress.isVisible()


def test_existing_destination_asks_before_overwriting(qtbot, panel, run, tmp_path, monkeypatch, errors):
    open_run(qtbot, panel, run)
    generate(qtbot, panel, 1)
    out = tmp_path / "export"
    export_through_dialog(qtbot, panel, out, formats=("nifti",))
    wait_for_export(qtbot, panel)
    panel.summary_dialog.close()
    first = (out / "manifest.json").read_text()

    asked = []
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a[1]) or answer[0]))
    dialog = export_through_dialog(qtbot, panel, out, formats=("nifti",))
    assert asked == ["Replace the existing export?"]
    assert dialog.isVisible() and dialog.result() != dialog.DialogCode.Accepted and not panel.is_busy()
    assert (out / "manifest.json").read_text() == first

    answer[0] = QMessageBox.StandardButton.Yes
    panel.summary_dialog = None
    dialog.accept()
    assert dialog.overwrite and len(asked) == 2
    wait_for_export(qtbot, panel)
    assert (out / "manifest.json").read_text() != first and errors == []

    other = tmp_path / "not_an_export"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    dialog = export_through_dialog(qtbot, panel, other, formats=("nifti",))
    assert "not a previous SynthVol export" in dialog.error.text() and dialog.isVisible()
    assert len(asked) == 2 and (other / "notes.txt").read_text() == "mine"
    dialog.reject()


def test_memorisation_flag_warns_before_export(qtbot, panel, run, monkeypatch):
    open_run(qtbot, panel, run)
    generate(qtbot, panel, 1)
    panel.report = {"memorization": {"nn_ratio": 0.2, "flagged": 3}}
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No))
    assert panel.open_export_dialog() is None
    assert "3 synthetic slice(s)" in asked[0]
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    dialog = panel.open_export_dialog()
    assert dialog is not None and "quality report" in dialog.quality_label.text()
    dialog.reject()


def test_cancel_stops_generation_without_partial_items(qtbot, panel, run, errors):
    open_run(qtbot, panel, run)
    panel.form.count.setValue(40)
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert panel.is_busy() and panel.cancel_button.isVisible() and not panel.generate_button.isEnabled()
    # the bar counts VOLUME_UNITS steps a volume (slices, then saving): cancel inside the first ones
    qtbot.waitUntil(lambda: panel.progress.maximum() == 40 * VOLUME_UNITS, timeout=WAIT_MS)
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    idle(qtbot, panel)
    gallery = run / "gallery"
    kept = [i.id for i in Gallery(gallery).items()]
    assert len(kept) < 40 and panel.grid.ids() == kept
    assert not [p for p in gallery.iterdir() if p.name.startswith(".")] if gallery.exists() else True
    assert not panel.cancel_button.isVisible() and panel.generate_button.isEnabled() and errors == []


def test_failing_generation_shows_the_error_and_returns_to_idle(qtbot, panel, run, errors):
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").mkdir()
    open_run(qtbot, panel, run)
    assert "no checkpoint yet" in panel.run_label.text()
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    idle(qtbot, panel)
    assert errors[0][0] == "Generation failed" and "checkpoint" in errors[0][1]
    assert panel.generate_button.isEnabled() and not panel.progress.isVisible() and panel.grid.count() == 0


def write_report(folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    report = {
        "fidelity": {"psnr": 21.5, "ssim": 0.71},
        "intensity_w1": {"CSF": 12.0, "grey matter": 8.5, "white matter": 6.25},
        "diversity": {"ms_ssim_synthetic": 0.62, "ms_ssim_real": 0.55},
        "memorization": {"nn_ratio": 1.4, "flagged": 0},
        "tstr": {"dice_real": 0.8, "dice_synthetic": 0.6, "dice_mixed": 0.82, "ratio": 0.75,
                 "per_label": {"CSF": {"real": 0.7, "synthetic": 0.5, "mixed": 0.72}}},
        "verdicts": {"fidelity": {"status": "fair", "text": "Recognisable anatomy, blurred detail"},
                     "memorization": {"status": "good", "text": "No synthetic slice is a copy of a training slice"}},
        "notes": ["Written by the test."],
    }
    (folder / "report.json").write_text(json.dumps(report))
    (folder / "report.html").write_text("<html></html>")
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.darkCyan)
    image.save(str(folder / "pairs.png"))
    report["images"] = {"pairs": "pairs.png"}
    (folder / "report.json").write_text(json.dumps(report))
    return report


def test_quality_view_shows_a_saved_report(qtbot, panel, run):
    """A report.json written here (the keys of issue 6) shows as numbers, verdicts, pictures, link."""
    write_report(jobs.report_folder(run))
    open_run(qtbot, panel, run)
    view = panel.quality
    assert list(view.cards) == ["fidelity", "intensity_w1", "diversity", "memorization", "tstr"]
    fidelity = view.cards["fidelity"]
    assert fidelity.status == "fair" and "Recognisable anatomy, blurred detail" in fidelity.verdict_label.text()
    assert fidelity.rows[0] == ("PSNR", "21.50 dB", "")
    assert [len(c.figures) for c in view.cards.values()] == [1, 0, 0, 0, 0]
    assert "No verdict" in view.cards["tstr"].verdict_label.text()  # none in this report: said, not invented
    assert [r[1] for r in view.cards["tstr"].rows] == ["0.600", "0.820", "0.75", "0.500"]
    assert view.notes == ["Written by the test."] and "report.html" in view.link.text()
    assert panel.report["tstr"]["ratio"] == 0.75


def test_check_quality_runs_the_report_in_the_background(qtbot, panel, run, errors):
    open_run(qtbot, panel, run)
    assert panel.quality.cards == {} and panel.report is None

    # Cancel: a long report (default budget) stops, nothing is written, the panel is idle again
    qtbot.mouseClick(panel.quality.check_button, Qt.MouseButton.LeftButton)
    assert panel.is_busy() and panel.cancel_button.isVisible() and not panel.quality.check_button.isEnabled()
    assert panel.tabs.currentWidget() is panel.quality
    qtbot.waitUntil(lambda: panel.progress.maximum() > 1, timeout=WAIT_MS)
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    idle(qtbot, panel)
    assert errors == [] and panel.report is None and not (jobs.report_folder(run) / "report.json").exists()
    assert panel.quality.check_button.isEnabled() and not panel.cancel_button.isVisible()

    # A small report runs to the end and shows its numbers, verdicts and pictures
    panel.quality_settings = dict(samples_per_map=2, diversity_maps=1, max_slices=4, max_reference_slices=50,
                                  segmenter_iterations=2, segmenter_batch_size=2, device="cpu")
    qtbot.mouseClick(panel.quality.check_button, Qt.MouseButton.LeftButton)
    idle(qtbot, panel)
    assert errors == [] and panel.report is not None
    assert np.isfinite(panel.report["fidelity"]["psnr"]) and 0 <= panel.report["tstr"]["ratio"] <= 10
    view = panel.quality
    assert len(view.cards) == 5 and view.notes == panel.report["notes"]
    for key, card in view.cards.items():
        assert card.status == panel.report["verdicts"][key]["status"]
        assert panel.report["verdicts"][key]["text"] in card.verdict_label.text()
    assert view.image_count() == len(panel.report["images"]) >= 1 and "report.html" in view.link.text()

    # the report reaches manifest.json on export; a new panel on the same run shows it again
    generate(qtbot, panel, 1)
    export_through_dialog(qtbot, panel, run.parent / "export", formats=("nifti",))
    wait_for_export(qtbot, panel)
    manifest = json.loads((run.parent / "export" / "manifest.json").read_text())
    assert manifest["quality"]["tstr"] == panel.report["tstr"]
    panel.summary_dialog.close()
    panel.set_run(None)
    assert view.cards == {}
    open_run(qtbot, panel, run)
    assert len(view.cards) == 5 and panel.report["created"]
