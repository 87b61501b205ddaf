"""The whole quality report on tiny trained runs (the demo's single-case split, a patient-level CT
split, another dataset), cancel, pause and the CLI (each measure on its own: test_evaluation_measures.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from engine.errors import Cancelled, EvaluationError
from engine.evaluation import (
    EvaluateConfig,
    FunctionSliceGenerator,
    evaluate_run,
    read_quality_report,
    report_problems,
)
from engine.events import Control, Finished, Progress
from engine.resources import DEMO_DATASET
from engine.training.config import TrainingConfig
from engine.training.trainer import train
from tests.engine.data_factory import phantom, phantom_label, write_volume
from tests.engine.test_evaluation_measures import _one_torch_thread  # noqa: F401  (autouse fixture)
from tests.engine.training_helpers import tiny_config

REPO = Path(__file__).resolve().parents[2]
MEASURE_WORDS = (
    "Fidelity",
    "Intensity",
    "Diversity",
    "Memorisation",
    "Utility",
    "PSNR",
    "SSIM",
    "MS-SSIM",
    "Dice",
)


def _tiny_training(data: Path, run: Path, **overrides) -> TrainingConfig:
    settings = dict(data=data, iterations=2, checkpoint_every=2, val_every=2, preview_every=2, val_slices=2)
    settings.update(overrides)
    return tiny_config(run, **settings)


def _ct_dataset(root: Path, shapes, seed: int = 0) -> Path:
    for i, shape in enumerate(shapes):
        write_volume(
            root / "images" / f"case{i}.nii.gz", phantom(shape, "CT", seed=seed + i), spacing=(2, 2, 3)
        )
        write_volume(root / "labels" / f"case{i}.nii.gz", phantom_label(shape), spacing=(2, 2, 3))
    return root


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("demo") / "run"
    train(_tiny_training(DEMO_DATASET, run))
    return run


@pytest.fixture(scope="module")
def ct_run(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("ct")
    data = _ct_dataset(base / "data", [(10, 40, 40), (10, 44, 38), (10, 36, 42), (10, 40, 44), (10, 42, 36)])
    train(_tiny_training(data, base / "run", val_fraction=0.4))
    return base / "run", base


def _small(run: Path, out: Path, **kw) -> EvaluateConfig:
    values = dict(
        run=run,
        out=out,
        samples_per_map=2,
        diversity_maps=2,
        max_slices=12,
        segmenter_iterations=4,
        segmenter_batch_size=2,
        device="cpu",
    )
    values.update(kw)
    return EvaluateConfig(**values)


def _assert_no_none(obj, where: str = "") -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _assert_no_none(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _assert_no_none(v, f"{where}[{i}]")
    else:
        assert obj is not None or where.endswith("worst_label"), f"{where} is null"


def _assert_sound_report(report: dict, out: Path) -> None:
    assert report_problems(report) == []
    on_disk = read_quality_report(out)  # what the export puts into manifest.json
    assert on_disk["tstr"] == report["tstr"]
    for key in ("fidelity", "intensity_w1", "diversity", "memorization", "tstr"):
        assert key in on_disk and on_disk["verdicts"][key]["status"] in ("good", "fair", "poor", "warning")
    assert {"psnr", "ssim"} <= set(on_disk["fidelity"])
    assert {"ms_ssim_synthetic", "ms_ssim_real"} <= set(on_disk["diversity"])
    assert {"nn_ratio", "flagged"} <= set(on_disk["memorization"])
    assert {"dice_real", "dice_synthetic", "dice_mixed", "ratio", "per_label"} <= set(on_disk["tstr"])
    text = (out / "report.json").read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    _assert_no_none(
        {
            k: on_disk[k]
            for k in (
                "fidelity",
                "intensity_w1",
                "intensity",
                "diversity",
                "memorization",
                "tstr",
                "verdicts",
            )
        }
    )
    html = (out / "report.html").read_text(encoding="utf-8")
    for word in MEASURE_WORDS:
        assert word in html
    assert html.count("data:image/png;base64,") >= 6
    for name in report["images"].values():
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with np.load(out / report["closest_pairs_file"]) as pairs:  # arrays for the GUI
        assert pairs["synthetic"].shape == pairs["training"].shape and pairs["synthetic"].ndim == 3
        assert np.allclose(
            pairs["distance"], [p["distance"] for p in report["memorization"]["closest_pairs"]]
        )


def test_report_on_the_demo_single_case_run(demo_run, tmp_path):
    events = []
    out = tmp_path / "report"
    cache = demo_run.parent / "cache"
    cached = sorted(cache.iterdir())
    report = evaluate_run(_small(demo_run, out), on_event=events.append)
    _assert_sound_report(report, out)
    assert sorted(cache.iterdir()) == cached  # the training cache is reused, not rebuilt
    assert report["heldout"]["mode"] == "slice_block" and report["modality"] == "MR"
    assert set(report["intensity_w1"]) == {"background", "CSF", "grey matter", "white matter"}
    assert any("single case" in n for n in report["notes"])
    assert report["realism"]["slices"] >= 2 and set(report["realism"]["per_plane"]) == {"axial", "coronal", "sagittal"}
    assert report["verdicts"]["realism"]["status"] in ("good", "fair", "poor")
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done == progress[-1].total
    assert [e.done for e in progress[1:]] == sorted(e.done for e in progress[1:])
    assert isinstance(events[-1], Finished) and events[-1].result == report


def test_report_on_a_patient_level_ct_split_and_on_another_dataset(ct_run, tmp_path):
    run, base = ct_run
    split = json.loads((run / "data_manifest.json").read_text())["split"]
    assert split["mode"] == "cases"
    cached = sorted((base / "cache").iterdir())
    report = evaluate_run(_small(run, tmp_path / "own"))
    _assert_sound_report(report, tmp_path / "own")
    assert sorted((base / "cache").iterdir()) == cached  # the training cache is reused, not rebuilt
    assert report["heldout"]["mode"] == "cases" and report["heldout"]["cases"] == split["val_cases"]
    assert report["units"] == "HU" and set(report["intensity_w1"]) == {"background", "label 1", "label 2"}
    other = _ct_dataset(base / "other", [(8, 40, 40)], seed=50)
    report2 = evaluate_run(_small(run, tmp_path / "other", data=other))
    _assert_sound_report(report2, tmp_path / "other")
    assert report2["heldout"]["mode"] == "other_dataset"
    assert report2["memorization"]["heldout_slices"] == report2["fidelity"]["slices"] > 0


def test_noise_generator_through_the_whole_report(ct_run, tmp_path):
    run, _ = ct_run
    noise = FunctionSliceGenerator(
        lambda ctx, seed: np.random.default_rng(seed or 0).uniform(-1, 1, (len(ctx), *ctx.shape[-2:]))
    )
    report = evaluate_run(_small(run, tmp_path / "noise"), generator=noise)
    assert report["fidelity"]["ssim_foreground"] < 0.2 and report["verdicts"]["fidelity"]["status"] == "poor"
    assert report["intensity"]["mean_relative_foreground"] > 0.1
    assert report["verdicts"]["intensity_w1"]["status"] == "poor"
    assert report["memorization"]["flagged"] == 0 and report["memorization"]["nn_ratio"] > 1.0
    # realism (issue 12): uniform noise is far too textured and flickers from slice to slice
    realism = report["realism"]
    assert realism["checks"]["texture_soft_tissue"]["value"] > 1.33 and not realism["checks"]["through_plane"]["met"]
    assert report["verdicts"]["realism"]["status"] == "poor"


def test_stop_cancels_without_leaving_a_report(demo_run, tmp_path):
    control = Control()

    def on_event(event):
        if isinstance(event, Progress) and event.done > 3:
            control.stop()

    with pytest.raises(Cancelled):
        evaluate_run(_small(demo_run, tmp_path / "stopped"), on_event=on_event, control=control)
    assert not (tmp_path / "stopped" / "report.json").exists()


def test_pause_holds_the_work_until_resumed(demo_run, tmp_path):
    control = Control()
    control.pause()
    done = threading.Event()
    worker = threading.Thread(
        target=lambda: (evaluate_run(_small(demo_run, tmp_path / "p"), control=control), done.set())
    )
    worker.start()
    assert not done.wait(1.5)
    control.resume()
    worker.join(120)
    assert done.is_set() and (tmp_path / "p" / "report.json").is_file()


def test_bad_settings_and_missing_run_are_clear_errors(tmp_path):
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match="samples per map"):
        EvaluateConfig(run=tmp_path, out=tmp_path / "r", samples_per_map=1).validate()
    with pytest.raises(EvaluationError, match="not a SynthVol run folder"):
        evaluate_run(EvaluateConfig(run=tmp_path / "nothing", out=tmp_path / "r"))


@pytest.mark.slow
def test_evaluate_cli_on_a_tiny_trained_run(demo_run, tmp_path):
    env = {**os.environ, "SYNTHVOL_TORCH_THREADS": "1"}
    small = [
        "--samples",
        "2",
        "--diversity-maps",
        "2",
        "--max-slices",
        "10",
        "--segmenter-iterations",
        "3",
        "--device",
        "cpu",
    ]

    def evaluate(*args):
        cmd = [sys.executable, str(REPO / "main.py"), "evaluate", "--run", str(demo_run), *args, *small]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO, env=env)

    proc = evaluate("--out", str(tmp_path / "json_report"), "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report_problems(report) == [] and (tmp_path / "json_report" / "report.html").is_file()
    table = evaluate("--out", str(tmp_path / "table_report"), "--data", str(DEMO_DATASET))
    assert table.returncode == 0, table.stderr[-2000:]
    assert "Memorisation" in table.stdout and "report.html" in table.stdout
    missing = subprocess.run(
        [
            sys.executable,
            str(REPO / "main.py"),
            "evaluate",
            "--run",
            str(tmp_path / "none"),
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert missing.returncode != 0 and "Traceback" not in missing.stderr and "run folder" in missing.stderr
