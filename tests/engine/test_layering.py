"""engine/ must never import Qt, pyqtgraph or gui/: the same engine runs headless and on clusters."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "gui", "shiboken6")


def _imported_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_engine_sources_do_not_import_qt_or_gui():
    offenders = []
    files = sorted(ENGINE.rglob("*.py"))
    assert files, "engine/ has no Python files"
    for path in files:
        for module in _imported_modules(path):
            if module.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(ENGINE.parent)} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_importing_the_whole_engine_loads_no_qt():
    code = (
        "import importlib, pkgutil, sys, engine\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ENGINE.parent, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"engine pulled in: {out.stdout.strip()}"


def test_import_contracts_of_pyproject_hold():
    """The import-linter contracts of pyproject.toml ([tool.importlinter]): the engine never imports
    Qt or the GUI, its layers import downward only (data <- models <- training <- synthesis <-
    release <- export/evaluation <- cli), and nothing outside engine/cli* imports the CLI."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--no-cache"], cwd=ENGINE.parent, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "3 kept, 0 broken" in out.stdout, out.stdout[-2000:]


def test_the_layer_contract_catches_an_upward_import(tmp_path):
    """The contract is not vacuous: a data module that imports the trainer breaks it."""
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(ENGINE, copy / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ENGINE.parent / "gui", copy / "gui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ENGINE.parent / "pyproject.toml", copy / "pyproject.toml")
    (copy / "engine" / "data" / "upward.py").write_text("import engine.training.trainer\n", encoding="utf-8")
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--no-cache"], cwd=copy, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert out.returncode != 0 and "engine.data.upward -> engine.training.trainer" in out.stdout, out.stdout[-3000:]
