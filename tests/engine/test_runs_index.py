"""The runs of a folder (engine.evaluation.runs_index): two real tiny runs, one finished and one
stopped half way, read back against their own files; verdicts, busy and interrupted runs,
damaged folders, resumed curves, nesting, cancel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.errors import Cancelled
from engine.evaluation.runs_index import curves_of, find_runs, list_runs, summarise_run
from engine.events import Control, Losses
from engine.resources import DEMO_DATASET
from engine.training.run_folder import TrainingRun
from engine.training.run_lock import RunLock
from engine.training.trainer import train
from tests.engine.training_helpers import tiny_config


def train_runs(root: Path) -> tuple[Path, Path]:
    """RUNS/finished (6 of 6 iterations) and RUNS/project/stopped (stopped after 3 of 6)."""
    finished = root / "finished"
    train(tiny_config(finished))
    stopped = root / "project" / "stopped"
    control = Control()

    def stop_at_three(event) -> None:
        if isinstance(event, Losses) and event.iteration >= 3:
            control.stop()

    train(tiny_config(stopped, image_size=80, seed=5), on_event=stop_at_three, control=control)
    return finished, stopped


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    train_runs(root)
    return root


@pytest.fixture
def runs(trained, tmp_path) -> Path:
    copy = tmp_path / "runs"
    shutil.copytree(trained, copy)
    return copy


def metric_lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def test_lists_both_runs_with_what_their_files_say(runs):
    listed = list_runs(runs)
    by_name = {s.name: s for s in listed}
    assert set(by_name) == {"finished", "stopped"}
    for s in listed:
        record = json.loads((s.folder / "config.json").read_text())
        lines = metric_lines(s.folder)
        assert s.problem is None
        assert s.dataset == DEMO_DATASET.name and s.dataset_path == str(DEMO_DATASET.resolve())
        assert s.preset == "quick" and s.modality == record["modality"]
        assert s.image_size == record["training"]["image_size"]
        assert s.iterations == 6 and s.iteration == max(r["iteration"] for r in lines)
        assert s.device and s.device == record["device_name"]
        assert s.seconds == lines[-1]["time_s"] > 0
        ssim = [(r["iteration"], r["val_ssim"]) for r in lines if "val_ssim" in r]
        assert s.best["val_ssim"] == max(ssim, key=lambda p: p[1])
        its, values = s.curves["val_ssim"]
        assert list(its) == [i for i, _ in ssim] and np.allclose(values, [v for _, v in ssim])
        psnr = [r["val_psnr"] for r in lines if "val_psnr" in r]
        assert s.best["val_psnr"][1] == max(psnr)
        assert s.best["val_l1"][1] == min(r["val_l1"] for r in lines if "val_l1" in r)  # lower is better
        assert s.verdicts == {} and s.has_checkpoint
    done, half = by_name["finished"], by_name["stopped"]
    assert done.iteration == 6 and done.state == "finished" and not done.can_resume
    assert half.image_size == 80 and half.iteration == 3 and half.state == "stopped" and half.can_resume
    assert half.folder == runs / "project" / "stopped"  # two levels down


def test_quality_verdicts_come_from_the_runs_report(runs):
    run = TrainingRun(runs / "finished")
    run.quality_dir.mkdir()
    verdicts = {"memorization": {"status": "good", "text": "."}, "fidelity": {"status": "FAIR", "text": "."},
                "diversity": {"status": "warning", "text": "."}, "tstr": "a plain string has no status"}
    (run.quality_dir / "report.json").write_text(json.dumps({"verdicts": verdicts}))
    s = summarise_run(run.folder)
    assert list(s.verdicts.items()) == [("fidelity", "fair"), ("diversity", "warning"), ("memorization", "good")]
    (run.quality_dir / "report.json").write_text("{ not json")
    assert summarise_run(run.folder).verdicts == {} and summarise_run(run.folder).problem is None


def test_a_run_in_use_is_busy_and_a_dead_trainer_is_interrupted(runs):
    half = runs / "project" / "stopped"
    with RunLock(half, "training"):
        s = summarise_run(half)
        assert s.state == "training" and s.busy and not s.can_resume
    with RunLock(half, "generating"):
        assert summarise_run(half).state == "busy (generating)"
    TrainingRun(half).write_status({"state": "running", "iteration": 3, "iterations": 6})
    s = summarise_run(half)  # it said "running" and nobody holds the lock: the process died
    assert s.state == "interrupted" and s.can_resume


def test_a_damaged_run_says_why_and_the_others_are_listed(runs):
    bad = runs / "broken"
    bad.mkdir()
    (bad / "config.json").write_text("{ truncated")
    listed = {s.name: s for s in list_runs(runs)}
    assert set(listed) == {"finished", "stopped", "broken"}
    assert "config.json" in listed["broken"].problem and not listed["broken"].can_resume
    assert listed["finished"].problem is None


def test_a_resumed_curve_never_goes_back():
    records = [{"iteration": 3, "val_ssim": 0.2}, {"iteration": 6, "val_ssim": 0.3},
               {"iteration": 3, "val_ssim": 0.25}, {"iteration": 6, "val_ssim": 0.35}, {"iteration": 9, "val_ssim": 0.4},
               {"iteration": True, "val_ssim": 1.0}, {"iteration": 12, "val_ssim": float("nan")}]
    its, values = curves_of(records)["val_ssim"]
    assert list(its) == [3, 6, 9, 12] and values[:3].tolist() == [0.25, 0.35, 0.4] and np.isnan(values[3])


def test_find_runs_depth_and_never_inside_a_run(runs, tmp_path):
    assert find_runs(runs / "finished") == [runs / "finished"]
    inner = runs / "finished" / "gallery" / "nested"
    shutil.copytree(runs / "project" / "stopped", inner)
    deep = runs / "a" / "b" / "c"
    shutil.copytree(runs / "project" / "stopped", deep)
    assert sorted(find_runs(runs)) == [runs / "finished", runs / "project" / "stopped"]
    assert find_runs(tmp_path / "missing") == []


def test_listing_stops_when_asked(runs):
    control = Control()
    control.stop()
    with pytest.raises(Cancelled):
        list_runs(runs, control=control)
