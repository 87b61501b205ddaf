"""Nothing identifying leaves the run folder (issue 10, section 1).

A PACS-style CT dataset with identifiers planted in its folder names, file names, every identifying
DICOM attribute (sequences and private tags included), its label names and labels.json goes
through scan -> train -> evaluate -> generate (every format, --mix-real) on the command line, a
generate killed part way (SIGKILL), and the window's quality check and export. Then every byte,
file name and folder name of everything written outside the run folder, and of the quality
reports, is searched for every planted string.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from engine.export.config import FORMATS
from engine.training.run_folder import TrainingRun
from gui.panels.gallery_panel import GalleryPanel
from gui.widgets import error_dialog
from tests.e2e.privacy_dataset import DATASET_FOLDER, PATIENTS, build_dataset, needles
from tests.engine.training_helpers import settings_file
from tests.gui.test_gallery_panel import export_through_dialog, generate, idle, wait_for_export

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {".json", ".txt", ".html", ".csv", ".tsv", ".md", ".xml", ".nhdr"}
SMALL_REPORT = [
    "--samples",
    "2",
    "--diversity-maps",
    "1",
    "--max-slices",
    "6",
    "--max-reference-slices",
    "30",
    "--segmenter-iterations",
    "2",
    "--segmenter-batch-size",
    "2",
    "--device",
    "cpu",
]


def _cli(*args, timeout=600):
    env = {**os.environ, "SYNTHVOL_TORCH_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "main.py", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    return out


def _blobs(path: Path):
    """The bytes of a file and of what it holds (gzip members, the arrays of an .npz)."""
    data = path.read_bytes()
    yield data
    if path.name.endswith(".gz"):
        yield gzip.decompress(data)
    if path.suffix in (".npz", ".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                yield archive.read(name)


def find_leaks(folder: Path, planted: dict[str, str]) -> list[str]:
    """Every planted string found in a file or folder name below ``folder`` or in a file's bytes:
    in text files whatever its case, in binary files as planted (long enough not to occur by
    chance in pixel data)."""
    leaks = []
    patterns = {
        what: re.compile(rb"(?<![A-Za-z0-9.])" + re.escape(s.encode()) + rb"(?![A-Za-z0-9])", re.I)
        for what, s in planted.items()
    }
    exact = {
        what: re.compile(rb"(?<![A-Za-z0-9.])" + re.escape(s.encode()) + rb"(?![A-Za-z0-9])")
        for what, s in planted.items()
        if len(s) >= 6
    }
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        leaks += [f"{rel}: name holds {what}" for what, p in patterns.items() if p.search(rel.encode())]
        if not path.is_file():
            continue
        text = path.suffix in TEXT_SUFFIXES
        for blob in _blobs(path):
            for what, p in (patterns if text else exact).items():
                if p.search(blob):
                    leaks.append(f"{rel}: {what}")
    return sorted(set(leaks))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("privacy")
    root = build_dataset(base)
    run = base / f"{DATASET_FOLDER}-20240101-1200"  # named after the data, as the window names runs
    settings = settings_file(base, log_every=2, val_every=4, preview_every=4, val_fraction=0.34)
    scan = json.loads(_cli("scan", root, "--json").stdout)
    assert sorted(c["id"] for c in scan["cases"]) == sorted(p.folder for p in PATIENTS)
    _cli("train", "--data", root, "--run", run, "--config", settings, "--iterations", "6", "--device", "cpu")
    return root, run, base


def _kill_a_generate_part_way(run: Path, out: Path) -> Path:
    """Start a long generate, SIGKILL it once its first sample is written; returns its work folder."""
    env = {**os.environ, "SYNTHVOL_TORCH_THREADS": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "main.py",
            "generate",
            "--run",
            str(run),
            "--out",
            str(out),
            "--count",
            "40",
            "--device",
            "cpu",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    work = TrainingRun(run).work_dir
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            started = list(work.glob(f"generate-{proc.pid}-*/syn_0001"))
            if started:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the generate ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    (left,) = work.glob(f"generate-{proc.pid}-*")
    return left


def test_nothing_identifying_leaves_the_run_folder(trained, qtbot, monkeypatch):
    root, run, base = trained
    shared = base / "shared"  # where everything that leaves the run goes
    shared.mkdir()
    report = shared / "report"
    _cli("evaluate", "--run", run, "--out", report, *SMALL_REPORT)
    every_format = ",".join(FORMATS)
    _cli(
        "generate",
        "--run",
        run,
        "--out",
        shared / "cli export",
        "--count",
        "2",
        "--label-source",
        "augment",
        "--format",
        every_format,
        "--mix-real",
        "1",
        "--quality-report",
        report,
        "--device",
        "cpu",
    )

    # a generate killed part way leaves nothing beside its export, and its work goes at the next start
    before = sorted(p.name for p in shared.iterdir())
    left = _kill_a_generate_part_way(run, shared / "killed export")
    assert sorted(p.name for p in shared.iterdir()) == before, (
        "nothing beside the export of a killed generate"
    )
    assert left.is_dir() and left.parent == TrainingRun(run).work_dir  # its work stayed inside the run
    _cli(
        "generate",
        "--run",
        run,
        "--out",
        shared / "second export",
        "--count",
        "1",
        "--label-source",
        "augmented-real",  # real scans, classically augmented: their identifiers must not follow them
        "--format",
        "nifti,dicom",
        "--device",
        "cpu",
    )
    assert not left.exists(), "a killed generate's work is removed at the next start"

    # the window: check quality (the report inside the run is shared too), generate, export everything
    shown = []
    monkeypatch.setattr(
        error_dialog, "show_error", lambda parent, title, message, details=None: shown.append(message)
    )
    monkeypatch.setattr("gui.dialogs.export_summary.QDesktopServices.openUrl", lambda url: None)
    panel = GalleryPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_run(run)
    idle(qtbot, panel)
    panel.quality_settings = dict(
        samples_per_map=2,
        diversity_maps=1,
        max_slices=6,
        max_reference_slices=30,
        segmenter_iterations=2,
        segmenter_batch_size=2,
        device="cpu",
    )
    qtbot.mouseClick(panel.quality.check_button, Qt.MouseButton.LeftButton)
    idle(qtbot, panel, timeout=300_000)
    assert panel.report is not None and not shown, shown
    panel.form.set_source("augment")
    generate(qtbot, panel, 2)
    export_through_dialog(qtbot, panel, shared / "window export", formats=FORMATS, mix=1.0)
    wait_for_export(qtbot, panel)
    panel.summary_dialog.close()
    panel.stop_and_wait()
    assert not shown, shown
    window_manifest = json.loads((shared / "window export" / "manifest.json").read_text())
    assert "quality" in window_manifest and window_manifest["run_info"]["run_id"]
    assert str(run) not in json.dumps(window_manifest), "the window's manifest carries no run path"

    planted = needles(root, run, base / "cache")
    leaks = find_leaks(shared, planted) + [
        f"RUN/quality/{x}" for x in find_leaks(TrainingRun(run).quality_dir, planted)
    ]
    assert not leaks, "identifiers left the run folder:\n" + "\n".join(leaks[:60])
    # and the search would have found them: the run folder itself holds them
    inside = find_leaks(run, {k: v for k, v in planted.items() if "uid" not in k})
    assert any("data_manifest.json" in leak for leak in inside) and any("gallery" in leak for leak in inside)
