"""The run folder has one owner (engine.training.run_folder.TrainingRun): no gui/ source names a
file or folder inside a run folder, whether as a string (``"metrics.jsonl"``, ``"RUN/samples/"``) or
as a path step (``run / "checkpoints"``). The names come from the engine itself, so a file the
layout gains is covered too."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from engine.evaluation.schema import HTML_FILE, REPORT_FILE
from engine.evaluation.writer import PAIRS_FILE
from engine.training import run_folder

GUI = Path(__file__).resolve().parents[2] / "gui"
# what lies inside a run folder: its own names, and the files of its checkpoints, previews,
# gallery samples and quality report
FILE_NAMES = [n for n in run_folder.RUN_FOLDER_NAMES if "." in n] + [
    "last.pt",
    REPORT_FILE,
    HTML_FILE,
    PAIRS_FILE,
    "case.json",
    "image.nii.gz",
    "label.nii.gz",
]
FOLDER_NAMES = [n for n in run_folder.RUN_FOLDER_NAMES if "." not in n]
FILE_PATTERN = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(n) for n in FILE_NAMES) + r")(?![\w.])")
PREFIX_PATTERN = re.compile(r"(?<![\w.])(iter_|ckpt_)[\w*]*\.(png|pt)\b|\*\.pt\b")
_FOLDERS = "|".join(FOLDER_NAMES)
PATH_PATTERN = re.compile(rf"[/\\]({_FOLDERS})(?![\w.])|(?<![\w.])({_FOLDERS})[/\\]")


def offences(source: str, name: str) -> list[str]:
    found = []
    tree = ast.parse(source, filename=name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            hit = FILE_PATTERN.search(text) or PREFIX_PATTERN.search(text)
            if not hit and ("/" in text or "\\" in text):
                hit = PATH_PATTERN.search(text)
            if hit:
                found.append(f"{name}:{node.lineno}: {hit.group(0)!r} in {text[:60]!r}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            right = node.right
            if isinstance(right, ast.Constant) and isinstance(right.value, str):
                if right.value in FOLDER_NAMES or FILE_PATTERN.fullmatch(right.value):
                    found.append(f"{name}:{node.lineno}: path step {right.value!r}")
    return found


def test_no_gui_source_names_a_file_of_the_run_folder():
    sources = sorted(GUI.rglob("*.py"))
    assert len(sources) > 20
    found = []
    for path in sources:
        found += offences(path.read_text(encoding="utf-8"), str(path.relative_to(GUI.parent)))
    assert not found, "gui/ names files of the run folder (ask TrainingRun instead):\n" + "\n".join(found)


def test_the_check_finds_each_way_of_naming_them():
    """Every way the old GUI named run files is caught (the check can fail)."""
    bad = {
        'ok = (path / "config.json").is_file()': "config.json",
        'folder = run / "checkpoints"': "checkpoints",
        'metrics = "metrics.jsonl"': "metrics.jsonl",
        'new = folder.glob("iter_*.png")': "iter_",
        'link = "Open report.html"': "report.html",
        'tip = "into the run (RUN/gallery)"': "gallery",
        'any(d.glob("*.pt"))': "*.pt",
    }
    for code, name in bad.items():
        found = offences(code, "example.py")
        assert found and name in found[0], (code, found)
    fine = [
        'preset = "quality"',
        'panels = ("dataset", "training", "gallery")',
        'tip = "<case>_image.nii.gz"',
    ]
    for code in fine:
        assert offences(code, "example.py") == [], code
