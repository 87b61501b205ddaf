"""Finding 3D Slicer and the command that opens an exported case: a fake Slicer on PATH (a script
that runs the --python-code it is given against a stand-in ``slicer`` module and records what it
was asked to load), install folders, the environment override, an export's slicer/ folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from engine.export import slicer
from engine.export.viewers import ENV_VAR, find_slicer, slicer_cases, slicer_command

FAKE_SLICER = f"""#!{sys.executable}
# A stand-in for 3D Slicer: runs --python-code with a `slicer` module that records each load.
import json, os, sys, types
calls = []
class Node:
    def SetReferenceImageGeometryParameterFromVolumeNode(self, volume):
        calls.append(["reference", volume.path])
def load(kind):
    def loader(path):
        if not os.path.isfile(path):
            raise SystemExit(f"no such file: {{path}}")
        calls.append([kind, path])
        node = Node(); node.path = path
        return node
    return loader
slicer = types.ModuleType("slicer")
slicer.util = types.SimpleNamespace(loadVolume=load("volume"), loadSegmentation=load("segmentation"))
sys.modules["slicer"] = slicer
args = sys.argv[1:]
exec(args[args.index("--python-code") + 1], {{}})
with open(os.environ["FAKE_SLICER_LOG"], "w") as fh:
    json.dump({{"argv": args, "calls": calls}}, fh)
"""


def fake_slicer(folder: Path, name: str = "Slicer") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(FAKE_SLICER)
    path.chmod(0o755)
    return path


def export_folder(root: Path, cases: list[str]) -> Path:
    folder = root / "export" / slicer.FOLDER
    folder.mkdir(parents=True)
    for case in cases:
        (folder / slicer.image_name(case)).write_bytes(b"NRRD0004\n")
        (folder / slicer.segmentation_name(case)).write_bytes(b"NRRD0004\n")
    (folder / slicer.segmentation_name("lonely")).write_bytes(b"NRRD0004\n")  # no image: not a case
    return root / "export"


def test_slicer_on_path_is_found_and_opens_the_case(tmp_path):
    exe = fake_slicer(tmp_path / "bin")
    env = {"PATH": f"{tmp_path / 'bin'}{os.pathsep}/usr/bin"}
    assert find_slicer(env, home=tmp_path / "home") == exe
    out = export_folder(tmp_path, ["case-0a1b2c3d4e", "case-ffeeddccbb"])
    cases = slicer_cases(out)
    assert [c.case_id for c in cases] == ["case-0a1b2c3d4e", "case-ffeeddccbb"]
    command = slicer_command(exe, cases[1])
    log = tmp_path / "log.json"
    done = subprocess.run(command, env={**os.environ, "FAKE_SLICER_LOG": str(log)}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    calls = json.loads(log.read_text())["calls"]
    image, seg = str(cases[1].image), str(cases[1].segmentation)
    assert calls == [["volume", image], ["segmentation", seg], ["reference", image]]
    assert seg.endswith(".seg.nrrd") and Path(image).name == "case-ffeeddccbb.nrrd"


def test_paths_with_quotes_and_spaces_reach_slicer_intact(tmp_path):
    exe = fake_slicer(tmp_path / "bin")
    out = export_folder(tmp_path / "it's a \"folder\" with spaces", ["case-1"])
    log = tmp_path / "log.json"
    case = slicer_cases(out)[0]
    done = subprocess.run(slicer_command(exe, case), env={**os.environ, "FAKE_SLICER_LOG": str(log)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(log.read_text())["calls"][0] == ["volume", str(case.image)]


def test_the_newest_install_in_the_home_folder_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")  # the Linux tarball folders
    home = tmp_path / "home"
    old = fake_slicer(home / "Slicer-5.2.2-linux-amd64")
    new = fake_slicer(home / "Slicer-5.10.0-linux-amd64")
    (home / "Slicer-5.12.0-linux-amd64").mkdir()  # an unpacked folder without a launcher
    assert find_slicer({"PATH": ""}, home=home) == new
    new.chmod(0o644)  # not executable: not a launcher
    assert find_slicer({"PATH": ""}, home=home) == old


def test_the_environment_override_and_nothing_installed(tmp_path):
    exe = fake_slicer(tmp_path / "elsewhere", "MySlicer")
    fake_slicer(tmp_path / "bin")
    env = {"PATH": str(tmp_path / "bin"), ENV_VAR: str(exe)}
    assert find_slicer(env, home=tmp_path) == exe  # the override wins over PATH
    assert find_slicer({**env, ENV_VAR: str(tmp_path / "missing")}, home=tmp_path) is None
    assert find_slicer({"PATH": str(tmp_path / "empty")}, home=tmp_path / "nobody") is None
    assert slicer_cases(tmp_path / "no export") == []
