"""The utility study in the Gallery's Quality tab, on a real tiny run: Run utility study in the
background with the job bar's progress, Cancel during the study's segmenter training stops within
seconds and leaves no report, a small study runs to the end and shows its curve (one line per label
source, real and real+augmentation as bands), its per-label table with the rare label apart, and
its recommended ratio reaches the export dialog."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from gui.panels import gallery_jobs as jobs
from gui.panels.quality_study import parse_ratios, study_table
from gui.panels.quality_study_plot import MEAN, study_curves
from tests.gui.test_gallery_panel import errors, generate, idle, open_run, panel, run, trained_run  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow
WAIT_MS = 600_000
SMALL = dict(samples_per_map=2, diversity_maps=1, max_slices=4, max_reference_slices=50, segmenter_batch_size=2,
             device="cpu")


def test_cancel_stops_the_study_within_seconds(qtbot, panel, run, errors):  # noqa: F811
    open_run(qtbot, panel, run)
    section = panel.quality.study_section
    assert section.run_button.isEnabled() and "Not run yet" in section.verdict.text()
    panel.quality_settings = dict(SMALL, segmenter_iterations=5000)  # a study far too long to finish here
    section.ratios.setText("1, 2")
    section.run_button.click()
    assert panel.is_busy() and panel.cancel_button.isVisible() and not section.run_button.isEnabled()
    assert "Running the utility study" in section.verdict.text()
    qtbot.waitUntil(lambda: panel.progress.format().startswith("Utility study: real"), timeout=WAIT_MS)
    qtbot.wait(1500)  # well inside a segmenter's training
    clicked = time.monotonic()
    panel.cancel_button.click()
    idle(qtbot, panel)
    stopped_s = time.monotonic() - clicked
    print(f"utility study stopped {stopped_s:.1f} s after Cancel")
    assert stopped_s < 30  # seconds, not the minutes the study had left
    assert errors == [] and panel.report is None and not (jobs.report_folder(run) / "report.json").exists()
    assert section.run_button.isEnabled() and "Not run yet" in section.verdict.text()


def test_a_small_study_shows_its_curve_table_and_recommendation(qtbot, panel, run, errors):  # noqa: F811
    open_run(qtbot, panel, run)
    section = panel.quality.study_section
    panel.quality_settings = dict(SMALL, segmenter_iterations=3)
    section.ratios.setText("0.5, 2")
    section.sources["rebalance"].setChecked(False)
    section.seeds.setValue(2)
    section.run_button.click()
    idle(qtbot, panel, WAIT_MS)
    assert errors == [] and panel.report is not None
    saved = json.loads((jobs.report_folder(run) / "report.json").read_text())
    study = saved["utility_study"]
    assert study["ratios"] == [0.5, 2.0] and study["sources"] == ["train", "augment"] and len(study["seeds"]) == 2

    # the verdict and the curve: one line per label source, the two baselines as bands
    assert saved["verdicts"]["utility_study"]["text"] in section.verdict.text()
    plot = section.plot
    assert set(plot.items) >= {"real", "real+augmentation", "train", "augment"}
    curves = study_curves(study, MEAN)
    for source in ("train", "augment"):
        x, y = plot.items[source].getData()
        mixes = sorted((c["ratio"], c["dice_mean"]) for c in study["conditions"]
                       if c["name"] == "real+synthetic" and c["label_source"] == source)
        assert np.allclose(2 ** x, [r for r, _ in mixes]) and np.allclose(y, [d for _, d in mixes])
    real = next(c for c in study["conditions"] if c["name"] == "real")
    assert curves.bands["real"].dice == real["dice_mean"]
    assert np.allclose(plot.items["real"].getData()[1], real["dice_mean"])
    plot.which.setCurrentIndex(1)  # the rare label's curve
    rare = study["rare_label"]
    x, y = plot.items["train"].getData()
    assert np.allclose(y, [c["per_label"][rare]["dice_mean"] for c in sorted(
        (c for c in study["conditions"] if c["name"] == "real+synthetic" and c["label_source"] == "train"),
        key=lambda c: c["ratio"])])

    # the table: every condition, the rare label in its own (bold) column
    headers, rows, rare_col = study_table(study)
    assert section.table.rowCount() == len(study["conditions"]) == len(rows)
    assert headers[rare_col] == f"rare: {rare}" and section.table.horizontalHeaderItem(rare_col).text() == headers[rare_col]
    assert section.table.item(0, rare_col).font().bold() and not section.table.item(0, 1).font().bold()
    assert section.table.item(0, 0).text() == "real"

    # the recommended ratio (or why there is none) becomes the export dialog's default
    generate(qtbot, panel, 1)
    dialog = panel.open_export_dialog()
    recommended = study["recommended"]
    if recommended["ratio"] is not None:
        assert dialog.ratio.value() == recommended["ratio"]
    else:
        assert dialog.ratio.value() == 1.0 and recommended["reason"] in dialog.ratio_note.text()
    dialog.reject()


def test_study_settings_are_checked_before_anything_runs(qtbot, panel, run):  # noqa: F811
    open_run(qtbot, panel, run)
    section = panel.quality.study_section
    section.ratios.setText("0.5, two")
    section.run_button.click()
    assert "ratios" in section.error.text() and not panel.is_busy()
    section.ratios.setText("1")
    for box in section.sources.values():
        box.setChecked(False)
    section.run_button.click()
    assert "label source" in section.error.text() and not panel.is_busy()
    assert parse_ratios("0.5; 1 2,4") == (0.5, 1.0, 2.0, 4.0)
