"""Faults around a run folder (issue 10 §2): damaged checkpoints, a full disk while checkpointing,
two jobs on one run, stale locks, a resume with other settings or other data, and a generator that
draws nothing. Each plants the fault and checks the message and that nothing was lost."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from engine.errors import CheckpointError, SynthVolError, TrainingError
from engine.events import Log
from engine.training.checkpoints import load_checkpoint, load_latest_intact, save_checkpoint
from engine.training.run_folder import TrainingRun
from engine.training.run_lock import RunBusy, RunLock, read_lock
from engine.training.trainer import train
from tests.engine.training_helpers import tiny_config
from tests.faults import Faults

REPO = Path(__file__).resolve().parents[2]


def _flip_weights(path: Path) -> None:
    """A few bytes of the generator weights changed on disk (the zip itself stays readable)."""
    state = torch.load(path, weights_only=True)
    name = next(k for k, v in state["generator"].items() if v.dtype.is_floating_point and v.numel() > 16)
    state["generator"][name].view(-1)[:8] += 1.0
    torch.save(state, path)


def _flip_bytes(path: Path, where: float = 0.6, n: int = 4096) -> None:
    raw = bytearray(path.read_bytes())
    start = int(len(raw) * where)
    raw[start : start + n] = bytes(255 - b for b in raw[start : start + n])
    path.write_bytes(bytes(raw))


# --------------------------------------------------------------------------------- checkpoints
def test_checkpoint_carries_a_checksum_and_a_damaged_one_is_refused(tiny_run_copy):
    last = tiny_run_copy / "checkpoints" / "last.pt"
    assert load_checkpoint(last)["integrity"]["sha256"]
    _flip_weights(last)
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(last)


def test_flipped_bytes_in_a_checkpoint_file_are_refused(tiny_run_copy):
    last = tiny_run_copy / "checkpoints" / "last.pt"
    _flip_bytes(last)
    with pytest.raises(CheckpointError):
        load_checkpoint(last)


def test_last_is_its_own_file_not_a_hard_link(tiny_run):
    ckpts = tiny_run / "checkpoints"
    last, newest = ckpts / "last.pt", sorted(ckpts.glob("ckpt_*.pt"))[-1]
    assert os.stat(last).st_nlink == 1 and os.stat(newest).st_nlink == 1
    assert os.stat(last).st_ino != os.stat(newest).st_ino
    assert last.read_bytes() == newest.read_bytes()


def test_generation_falls_back_to_the_newest_intact_checkpoint_with_a_warning(tiny_run_copy):
    from engine.synthesis import Synthesizer

    ckpts = tiny_run_copy / "checkpoints"
    _flip_weights(ckpts / "last.pt")
    _flip_weights(ckpts / "ckpt_00000006.pt")
    synth = Synthesizer(tiny_run_copy, device="cpu")
    assert synth.checkpoint.name == "ckpt_00000003.pt" and synth.checkpoint_iteration == 3
    assert any("ckpt_00000006.pt" in n and "damaged" in n for n in synth.checkpoint_notes)
    assert any("newest intact" in n for n in synth.checkpoint_notes)


def test_a_damaged_checkpoint_asked_for_is_refused_not_replaced(tiny_run_copy):
    from engine.synthesis import Synthesizer

    chosen = tiny_run_copy / "checkpoints" / "ckpt_00000006.pt"
    _flip_weights(chosen)
    with pytest.raises(CheckpointError, match="damaged"):
        Synthesizer(tiny_run_copy, checkpoint=chosen, device="cpu")


def test_no_intact_checkpoint_at_all_is_one_clear_error(tiny_run_copy):
    for p in (tiny_run_copy / "checkpoints").glob("*.pt"):
        _flip_weights(p)
    with pytest.raises(CheckpointError, match="no intact checkpoint"):
        load_latest_intact(tiny_run_copy / "checkpoints")


def test_resume_skips_a_damaged_last_checkpoint_and_says_so(tiny_run_copy):
    _flip_weights(tiny_run_copy / "checkpoints" / "last.pt")
    _flip_weights(tiny_run_copy / "checkpoints" / "ckpt_00000006.pt")
    events = []
    result = train(tiny_config(tiny_run_copy, iterations=7, resume=True), on_event=events.append)
    warnings = [e.text for e in events if isinstance(e, Log) and e.level == "warning"]
    assert any("damaged" in w for w in warnings)
    texts = [e.text for e in events if isinstance(e, Log)]
    assert any("Resumed from ckpt_00000003.pt at iteration 3" in t for t in texts)
    assert result.iteration == 7


def test_resume_from_a_chosen_checkpoint(tiny_run_copy):
    events = []
    train(
        tiny_config(
            tiny_run_copy,
            iterations=7,
            resume=True,
            resume_from=tiny_run_copy / "checkpoints" / "ckpt_00000003.pt",
        ),
        on_event=events.append,
    )
    assert any("Resumed from ckpt_00000003.pt at iteration 3" in e.text for e in events if isinstance(e, Log))


def test_a_full_disk_while_checkpointing_keeps_the_earlier_checkpoints(tiny_run_copy):
    ckpts = tiny_run_copy / "checkpoints"
    before = {p.name: p.read_bytes() for p in ckpts.glob("*.pt")}
    state = load_checkpoint(ckpts / "last.pt")
    with Faults(full=[ckpts]), pytest.raises(CheckpointError) as err:
        save_checkpoint({k: v for k, v in state.items() if k != "integrity"}, ckpts, 9)
    assert "No space left on device" in str(err.value) and "kept unchanged" in str(err.value)
    assert {p.name: p.read_bytes() for p in ckpts.glob("*.pt")} == before
    assert not list(ckpts.glob(".*.tmp"))
    load_checkpoint(ckpts / "last.pt")


def test_training_on_a_full_disk_stops_with_a_message_and_keeps_its_checkpoints(tiny_run_copy):
    ckpts = tiny_run_copy / "checkpoints"
    with Faults(full=[ckpts]), pytest.raises(CheckpointError, match="No space left on device"):
        train(tiny_config(tiny_run_copy, iterations=9, resume=True))
    assert load_checkpoint(ckpts / "last.pt")["iteration"] == 6


@pytest.mark.parametrize("drawn", ["constant", "nan"])
def test_a_constant_or_nan_synthetic_volume_is_refused_and_not_kept(tiny_run_copy, drawn, monkeypatch):
    from engine.synthesis import GenerateConfig, Synthesizer, generate_volumes

    synth = Synthesizer(tiny_run_copy, device="cpu")

    def broken(label, seed, *args, **kwargs):
        arr = np.full(
            sitk.GetArrayViewFromImage(label).shape, np.nan if drawn == "nan" else -1024.0, np.float32
        )
        img = sitk.GetImageFromArray(arr)
        img.CopyInformation(label)
        return img

    monkeypatch.setattr(synth, "synthesize", broken)
    cfg = GenerateConfig(run=tiny_run_copy, count=1, device="cpu", gallery=tiny_run_copy / "gallery_test")
    with pytest.raises(CheckpointError, match="NaN" if drawn == "nan" else "constant volume"):
        generate_volumes(cfg, synthesizer=synth)
    assert not list((tiny_run_copy / "gallery_test").glob("syn_*"))


# --------------------------------------------------------------------------------- the lock
def test_a_second_job_on_a_run_folder_is_refused_naming_the_first(tiny_run_copy):
    with RunLock(tiny_run_copy, "training"):
        with pytest.raises(RunBusy) as err:
            RunLock(tiny_run_copy, "generating").acquire()
        assert f"training by process {os.getpid()}" in str(err.value)
        assert read_lock(tiny_run_copy)["purpose"] == "training"
    assert not (tiny_run_copy / "run.lock").exists() and read_lock(tiny_run_copy) is None


@pytest.mark.parametrize("job", ["train", "generate", "evaluate"])
def test_train_generate_and_evaluate_take_the_lock(tiny_run_copy, job):
    from engine.evaluation import EvaluateConfig, evaluate_run
    from engine.synthesis import GenerateConfig, generate_volumes

    calls = {
        "train": lambda: train(tiny_config(tiny_run_copy, iterations=7, resume=True)),
        "generate": lambda: generate_volumes(GenerateConfig(run=tiny_run_copy, count=1, device="cpu")),
        "evaluate": lambda: evaluate_run(
            EvaluateConfig(run=tiny_run_copy, out=tiny_run_copy.parent / "report", device="cpu")
        ),
    }
    with RunLock(tiny_run_copy, "another job"), pytest.raises(RunBusy, match="another job by process"):
        calls[job]()


_HOLDER = """
import sys, time
sys.path.insert(0, {repo!r})
from engine.training.run_lock import RunLock
lock = RunLock({run!r}, "training").acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_a_lock_held_by_another_process_then_left_stale_by_its_death(tiny_run_copy):
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER.format(repo=str(REPO), run=str(tiny_run_copy))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(RunBusy, match=f"process {proc.pid}"):
            RunLock(tiny_run_copy, "generating").acquire()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert (tiny_run_copy / "run.lock").exists()  # left behind by the killed process
    lock = RunLock(tiny_run_copy, "generating").acquire()
    try:
        assert any("stale lock" in n and str(proc.pid) in n for n in lock.notes)
    finally:
        lock.release()


def test_without_flock_a_dead_pid_is_stale_and_a_live_one_is_not(tiny_run_copy, monkeypatch):
    import json
    import socket

    import engine.training.run_lock as run_lock

    monkeypatch.setattr(run_lock, "fcntl", None)  # a file system without flock: the record decides
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = TrainingRun(tiny_run_copy).lock_path
    path.write_text(json.dumps({"pid": dead.pid, "hostname": socket.gethostname(), "purpose": "training"}))
    lock = RunLock(tiny_run_copy, "generating").acquire()
    assert any("stale" in n for n in lock.notes)
    with pytest.raises(RunBusy, match="generating by process"):  # a live holder (this process)
        RunLock(tiny_run_copy, "training").acquire()
    lock.release()
    path.write_text(json.dumps({"pid": os.getpid(), "hostname": "another-host", "purpose": "training"}))
    with pytest.raises(RunBusy, match="on another-host"):  # another computer's: never judged stale
        RunLock(tiny_run_copy, "generating").acquire()


def test_the_lock_of_a_run_folder_that_is_a_file_or_read_only(tmp_path):
    from engine.training.run_lock import RunFolderError

    a_file = tmp_path / "run.txt"
    a_file.write_text("not a folder")
    with pytest.raises(RunFolderError, match="is a file, not a run folder"):
        RunLock(a_file, "training", create=True).acquire()
    folder = tmp_path / "ro"
    folder.mkdir()
    with Faults(readonly=[folder]), pytest.raises(RunFolderError, match="read-only"):
        RunLock(folder, "training").acquire()
    with Faults(readonly=[tmp_path]), pytest.raises(RunFolderError, match="Cannot create the run folder"):
        RunLock(tmp_path / "new run", "training", create=True).acquire()


# --------------------------------------------------------------------------------- resume
def test_resume_refuses_changed_model_settings_and_lists_them(tiny_run_copy):
    cfg = dataclasses.replace(
        tiny_config(tiny_run_copy, iterations=8, resume=True),
        image_size=96,
        seed=5,
        arch="pix2pix_unet",
        modality="CT",
        preset="quality",
    )
    with pytest.raises(TrainingError) as err:
        train(cfg)
    text = str(err.value)
    for what in (
        "image size 64 -> 96",
        "seed 0 -> 5",
        "arch 'spade_unet' -> 'pix2pix_unet'",
        "modality None -> 'CT'",
        "preset 'quick' -> 'quality'",
    ):
        assert what in text, (what, text)
    assert TrainingRun(tiny_run_copy).read_config()["training"]["image_size"] == 64  # nothing overwritten


def test_resume_applies_what_may_change_and_says_so(tiny_run_copy):
    events = []
    result = train(
        tiny_config(tiny_run_copy, iterations=8, resume=True, lr_g=2e-4, checkpoint_every=4),
        on_event=events.append,
    )
    said = [e.text for e in events if isinstance(e, Log) and "changed setting" in e.text]
    assert any("iterations 6 -> 8" in t for t in said) and any("lr g 0.0004 -> 0.0002" in t for t in said)
    assert result.iteration == 8
    assert TrainingRun(tiny_run_copy).read_config()["training"]["lr_g"] == 2e-4


def test_a_run_made_before_a_setting_existed_resumes_as_it_was_trained(tiny_run_copy):
    """A run folder from before the distribution term resumes with it off, not with today's default."""
    from engine.training.resume_check import resolve_resume

    run = TrainingRun(tiny_run_copy)
    record = run.read_config()
    assert record["training"]["lambda_hist"] == 10.0  # today's runs record it
    del record["training"]["lambda_rescan"], record["training"]["lambda_hist"]
    run.write_config(record)
    resumed = resolve_resume(tiny_config(tiny_run_copy, iterations=8, resume=True)).resolved()
    assert resumed.lambda_rescan == 0.0 and resumed.lambda_hist == 0.0
    result = train(tiny_config(tiny_run_copy, iterations=8, resume=True, checkpoint_every=4))
    assert result.iteration == 8 and run.read_config()["training"]["lambda_hist"] == 0.0


def _changed_dataset(tmp_path) -> Path:
    from engine.resources import DEMO_DATASET

    data = tmp_path / "data"
    shutil.copytree(DEMO_DATASET, data)
    return data


def test_resume_on_changed_data_is_refused_unless_allowed_and_then_recorded(tmp_path):
    data = _changed_dataset(tmp_path)
    run = tmp_path / "run"
    train(tiny_config(run, data=data, iterations=3))
    image = next(p for p in data.rglob("*.nii.gz") if "label" not in p.name and "seg" not in p.name)
    img = sitk.ReadImage(str(image))
    arr = sitk.GetArrayFromImage(img)
    arr[arr.shape[0] // 2] += 5
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(img)
    sitk.WriteImage(out, str(image))
    recorded = TrainingRun(run).read_manifest()["cases"][0]["sha256"]
    with pytest.raises(TrainingError, match="changed since") as err:
        train(tiny_config(run, data=data, iterations=4, resume=True))
    assert "--allow-changed-data" in str(err.value)
    assert TrainingRun(run).read_manifest()["cases"][0]["sha256"] == recorded  # not overwritten
    train(tiny_config(run, data=data, iterations=4, resume=True, allow_changed_data=True))
    manifest = TrainingRun(run).read_manifest()
    assert manifest["data_changes"][-1]["cases"][0]["recorded"] == recorded


def test_resume_with_the_dataset_moved_but_unchanged_goes_on(tmp_path):
    data = _changed_dataset(tmp_path)
    run = tmp_path / "run"
    train(tiny_config(run, data=data, iterations=3))
    moved = tmp_path / "moved data"
    shutil.move(data, moved)
    events = []
    assert (
        train(tiny_config(run, data=moved, iterations=4, resume=True), on_event=events.append).iteration == 4
    )
    assert any("dataset folder" in e.text for e in events if isinstance(e, Log))


def test_every_run_folder_error_is_a_synthvol_error():
    from engine.training.run_lock import RunFolderError

    assert issubclass(RunBusy, SynthVolError) and issubclass(RunFolderError, SynthVolError)


def test_lock_is_released_when_training_fails_early(tmp_path):
    with pytest.raises(SynthVolError):
        train(tiny_config(tmp_path / "run", data=tmp_path / "missing"))
    assert not (tmp_path / "run").exists()  # the folder the lock made is removed again
