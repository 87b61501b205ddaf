"""`python main.py ...` meets faults and hostile files for real (issue 10 §2): each probe runs the
command line in its own process (tests/e2e/fault_cli.py plants file-system faults where a test
asks), then checks the exit code, that the message names the problem, that no traceback or
"failed unexpectedly" reaches the user, and that nothing of the run or the dataset was lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.engine.data_factory import phantom, phantom_label, write_volume
from tests.engine.training_helpers import settings_file
from tests.faults import Faults

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "tests" / "e2e" / "fault_cli.py"


def cli(*args, faults: Faults | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, **(faults.to_env() if faults else {})}
    return subprocess.run(
        [sys.executable, str(LAUNCHER), *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def clean_failure(out: subprocess.CompletedProcess, *words: str, rc: int = 1) -> None:
    text = out.stderr + out.stdout
    assert out.returncode == rc, (out.returncode, text)
    assert "Traceback" not in text and "unexpectedly" not in text, text
    for w in words:
        assert w in text, (w, text)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("cli faults")
    data = folder / "demo data"
    shutil.copytree(REPO / "resources" / "demo", data)
    settings = settings_file(folder, checkpoint_every=3, device="cpu")
    run = folder / "run"
    out = cli("train", "--data", data, "--run", run, "--config", settings, "--iterations", "6")
    assert out.returncode == 0, out.stderr
    return {"folder": folder, "data": data, "run": run, "settings": settings}


@pytest.fixture
def run(base, tmp_path) -> Path:
    return Path(shutil.copytree(base["run"], tmp_path / "run"))


ONE_NIFTI = ("--count", "1", "--format", "nifti", "--device", "cpu")


def _generate(run: Path, out: Path, *extra, faults=None):
    return cli("generate", "--run", run, "--out", out, *ONE_NIFTI, *extra, faults=faults)


def _flip(path: Path) -> None:
    state = torch.load(path, weights_only=True)
    name = next(k for k, v in state["generator"].items() if v.dtype.is_floating_point and v.numel() > 16)
    state["generator"][name].view(-1)[:8] += 1.0
    torch.save(state, path)


# ------------------------------------------------------------------------------ the run folder
def test_run_that_is_a_file(tmp_path, base):
    a_file = tmp_path / "run.txt"
    a_file.write_text("x")
    clean_failure(cli("train", "--data", base["data"], "--run", a_file), "is a file, not a run folder")
    assert a_file.read_text() == "x"


def test_train_into_a_read_only_folder(tmp_path, base):
    parent = tmp_path / "read only"
    parent.mkdir()
    out = cli(
        "train",
        "--data",
        base["data"],
        "--run",
        parent / "run",
        "--config",
        base["settings"],
        faults=Faults(readonly=[parent]),
    )
    clean_failure(out, "Cannot create the run folder", "Permission denied")


def test_resume_in_a_read_only_run_folder(run, base):
    out = cli("train", "--run", run, "--resume", "--iterations", "7", faults=Faults(readonly=[run]))
    clean_failure(out, "read-only")
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["iteration"] == 6


def test_generate_from_a_read_only_run_folder(run, tmp_path):
    clean_failure(_generate(run, tmp_path / "out", faults=Faults(readonly=[run])), "Permission denied")
    assert not (tmp_path / "out").exists()


def test_generate_into_a_read_only_folder_is_refused_before_generating(run, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    out = _generate(run, ro / "export", faults=Faults(readonly=[ro]))
    clean_failure(out, "not writable")
    assert "Generated" not in out.stdout


def test_a_full_disk_while_checkpointing(run):
    out = cli(
        "train", "--run", run, "--resume", "--iterations", "9", faults=Faults(full=[run / "checkpoints"])
    )
    clean_failure(out, "No space left on device", "kept unchanged")
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["iteration"] == 6  # intact


def test_itk_short_write_of_a_generated_volume(run, tmp_path):
    out = _generate(run, tmp_path / "out", faults=Faults(short_itk=[run]))
    clean_failure(out, "incompletely")
    assert not (tmp_path / "out").exists()


def test_a_truncated_cache_entry_is_rebuilt_and_said(run, base):
    cache = base["folder"] / "cache"
    entry = next(p for p in cache.iterdir() if (p / "image.npy").is_file())
    saved = entry.with_name(entry.name + ".good")
    shutil.copytree(entry, saved)
    try:
        raw = (entry / "image.npy").read_bytes()
        (entry / "image.npy").write_bytes(raw[: len(raw) // 3])
        out = cli("train", "--run", run, "--resume", "--iterations", "7")
        assert out.returncode == 0, out.stderr
        assert "damaged" in out.stderr and "rebuilding" in out.stderr
        assert (entry / "image.npy").stat().st_size == len(raw)
    finally:
        shutil.rmtree(saved, ignore_errors=True)


HOSTILE = {  # every value is also tried in-process: tests/engine/test_faults_inputs.py
    "spacing_mm abc": ("config.json", lambda r: r.update(spacing_mm="abc")),
    "spacing_mm 0.002": ("config.json", lambda r: r.update(spacing_mm=0.002)),
    "no model": ("config.json", lambda r: r.pop("model")),
    "label 1e10": ("label_table.json", lambda r: r["labels"][-1].update(value=1e10)),
}


@pytest.mark.parametrize("what", sorted(HOSTILE))
def test_hostile_run_folder_values(run, tmp_path, what):
    name, change = HOSTILE[what]
    record = json.loads((run / name).read_text())
    change(record)
    (run / name).write_text(json.dumps(record))
    clean_failure(_generate(run, tmp_path / "out"), name)
    assert not (tmp_path / "out").exists()


def test_out_inside_the_dataset_is_refused(run, base):
    target = base["data"] / "synthetic"
    out = _generate(run, target)
    clean_failure(out, "inside the dataset")
    assert "Generated" not in out.stdout and not target.exists()


# ------------------------------------------------------------------------------ two jobs, stale lock
def test_two_trainers_on_one_run_then_a_stale_lock(run):
    first = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "train", "--run", run, "--resume", "--iterations", "5000"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and "training" not in (
            (run / "run.lock").read_text() if (run / "run.lock").exists() else ""
        ):
            assert first.poll() is None, first.stderr.read().decode()
            time.sleep(0.2)
        second = cli("train", "--run", run, "--resume", "--iterations", "8")
        clean_failure(second, "is in use", f"training by process {first.pid}")
        clean_failure(cli("evaluate", "--run", run, "--out", run.parent / "report"), "is in use")
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    after = cli("train", "--run", run, "--resume", "--iterations", "9")
    assert after.returncode == 0, after.stderr
    assert "stale lock" in after.stderr and str(first.pid) in after.stderr
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["iteration"] >= 9  # intact


# ------------------------------------------------------------------------------ damaged checkpoints
def test_generate_falls_back_from_damaged_checkpoints(run, tmp_path):
    _flip(run / "checkpoints" / "last.pt")
    _flip(run / "checkpoints" / "ckpt_00000006.pt")
    out = _generate(run, tmp_path / "out")
    assert out.returncode == 0, out.stderr
    assert "damaged" in out.stderr and "ckpt_00000003.pt" in out.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["cases"] and "Traceback" not in out.stderr


# ------------------------------------------------------------------------------ scans
def _scan(*args, faults=None):
    return cli("scan", *args, faults=faults)


def test_scan_of_an_unreadable_file(tmp_path):
    write_volume(tmp_path / "a.nii.gz", phantom((6, 20, 16)))
    write_volume(tmp_path / "a_seg.nii.gz", phantom_label((6, 20, 16)))
    out = _scan(tmp_path, faults=Faults(unreadable=[tmp_path / "a.nii.gz"]))
    clean_failure(out, "may not be read (permission denied)", rc=2)
    assert "does not exist" not in out.stdout + out.stderr


def test_scan_of_a_label_value_past_16_bits(tmp_path):
    lab = phantom_label((6, 20, 16)).astype(np.int32) * 35000
    write_volume(tmp_path / "a.nii.gz", phantom((6, 20, 16)))
    write_volume(tmp_path / "a_seg.nii.gz", lab)
    clean_failure(_scan(tmp_path), "70000", rc=2)
