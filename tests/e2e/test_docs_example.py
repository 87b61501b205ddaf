"""docs/examples/quickstart.py runs as it is written: scan, train, generate and export from Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "quickstart.py"


@pytest.mark.slow
def test_the_quickstart_example_runs(tmp_path):
    env = {
        **os.environ,
        "SYNTHVOL_EXAMPLE_DIR": str(tmp_path),
        "SYNTHVOL_TORCH_THREADS": "1",
        "PYTHONPATH": str(REPO),
    }
    out = subprocess.run(
        [sys.executable, str(EXAMPLE)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "1 case ready" in out.stdout and "trained to iteration 4" in out.stdout
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    assert [c["case_id"] for c in manifest["cases"]] == ["syn_0001", "syn_0002"]
    assert (tmp_path / "export" / "dicom" / "syn_0001" / "SEG_100" / "seg.dcm").is_file()
    assert (tmp_path / "export" / "nifti" / "syn_0002_image.nii.gz").is_file()
    assert "icbm152" not in json.dumps(manifest), "the source case is named by its pseudonym only"
