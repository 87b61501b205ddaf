"""The release policy (engine.release) and the run's work folder: pseudonyms, what is removed from
text and documents, label names, the report's captions, stale work of killed processes, exports
written inside the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.data.labels import LabelTable
from engine.evaluation.writer import released_figures, released_report
from engine.export import ExportConfig, export_dataset
from engine.release import PATH_REMOVED, REMOVED, Release
from engine.release.terms import KnownTerms
from engine.training.run_folder import TrainingRun
from tests.engine.export_helpers import case, table

CASES = {"DOE^JANETTE MRN-7734521", "icbm152_2009a", "1", "syn_0003"}


def _release(tmp_path: Path, **kw) -> Release:
    terms = KnownTerms(
        cases=set(CASES), other={"/data/PACS export/DOE^JANETTE MRN-7734521", "19610704", "Wallaby"}
    )
    return Release(TrainingRun(tmp_path / kw.get("run", "run")).release_key(), terms)


def test_pseudonyms_are_per_run_stable_and_keyed(tmp_path):
    a, again, other = _release(tmp_path), _release(tmp_path), _release(tmp_path, run="other run")
    p = a.pseudonym("icbm152_2009a")
    assert p.startswith("case-") and len(p) == 15 and p == again.pseudonym("icbm152_2009a")
    assert p != other.pseudonym("icbm152_2009a"), "another run, another key"
    assert p != a.pseudonym("icbm152_2009b") and a.run_id != other.run_id
    key = json.loads(TrainingRun(tmp_path / "run").release_key_path.read_text())["key"]
    assert len(key) == 64 and key not in (p, a.run_id)


def test_text_pseudonymises_cases_and_removes_identifiers_however_spelled(tmp_path):
    r = _release(tmp_path)
    pseudo = r.pseudonym("DOE^JANETTE MRN-7734521")
    for spelling in ("DOE^JANETTE MRN-7734521", "doe janette mrn 7734521", "DOE_JANETTE_MRN-7734521"):
        assert r.text(f"map of {spelling} z12") == f"map of {pseudo} z12"
    assert r.text("born 19610704, lives on Wallaby Way") == f"born {REMOVED}, lives on {REMOVED} Way"
    # an unknown path is dropped up to its first space (a known one, spaces and all, is a term)
    assert r.text("cases of /data/PACS export/other") == f"cases of {PATH_REMOVED} export/other"
    assert r.text("see /home/alice/exports/x.json now") == f"see {PATH_REMOVED} now"
    # what is not identifying stays: our own names, relative paths, short ids, ordinary words
    for keep in (
        "dicom/syn_0001/CT_1/0001.dcm",
        "syn_0003",
        "label 1",
        "real / synthetic / mixed",
        "images 3 mm/s",
    ):
        assert r.text(keep) == keep
    assert r.text("icbm152_2009a z3") == f"{r.pseudonym('icbm152_2009a')} z3"


def test_documents_keys_and_values_and_label_names(tmp_path):
    r = _release(tmp_path)
    doc = r.document(
        {
            "per_case": {"icbm152_2009a": 1.0},
            "notes": ["DOE^JANETTE MRN-7734521 held out"],
            "n": 3,
            "path": Path("/data/x"),
        }
    )
    assert doc == {
        "per_case": {r.pseudonym("icbm152_2009a"): 1.0},
        "notes": [f"{r.pseudonym('DOE^JANETTE MRN-7734521')} held out"],
        "n": 3,
        "path": PATH_REMOVED,
    }
    assert r.document(doc) == doc, "releasing twice changes nothing"
    names = r.label_table(
        LabelTable.from_names({1: "liver Wallaby", 2: "bone Wallaby", 3: "Wallaby", 4: "CSF"})
    )
    assert [names.name(v) for v in names.values] == [
        "background",
        f"liver {REMOVED}",
        f"bone {REMOVED}",
        "label 3",
        "CSF",
    ]
    clash = r.label_table(LabelTable.from_names({1: "lesion 19610704", 2: "lesion Wallaby"}))
    assert len({clash.name(v) for v in clash.values}) == 3, "names stay unique (nnU-Net maps name -> value)"


def test_a_reports_captions_and_fields_are_released(tmp_path):
    r = _release(tmp_path)
    report = {
        "run": "/runs/DOE^JANETTE MRN-7734521-run",
        "checkpoint": "/runs/x/checkpoints/last.pt",
        "data": "/data/PACS export",
        "heldout": {"mode": "cases", "cases": ["icbm152_2009a"], "description": "1 held-out case(s)"},
        "fidelity": {"per_case": {"1": {"psnr": 20.0}}},
        "settings": {"run": "/r", "out": "/o", "seed": 3},
    }
    shared = released_report(report, r)
    assert (
        shared["run"] == r.run_id
        and shared["checkpoint"] == "last.pt"
        and shared["data"] == "the run's own dataset"
    )
    assert shared["heldout"]["cases"] == [r.pseudonym("icbm152_2009a")]
    assert shared["fidelity"]["per_case"] == {r.pseudonym("1"): {"psnr": 20.0}}, (
        "short ids too, where they are ids"
    )
    assert shared["settings"] == {"seed": 3}
    arrays = np.zeros((1, 4, 4))
    figures = {
        "held": (arrays, arrays, arrays, ["DOE^JANETTE MRN-7734521 z4"]),
        "pairs": [
            {"synthetic_from": "map of icbm152_2009a z1", "training_from": "DOE_JANETTE_MRN-7734521 z9"}
        ],
    }
    out = released_figures(figures, r)
    assert out["held"][3] == [f"{r.pseudonym('DOE^JANETTE MRN-7734521')} z4"]
    assert "icbm152" not in json.dumps(out["pairs"]) and "JANETTE" not in json.dumps(out["pairs"])


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_work_of_a_killed_process_is_removed_and_live_work_kept(tmp_path):
    run = TrainingRun(tmp_path / "run")
    mine = run.new_work_folder("generate")
    dead = run.new_work_folder("export")
    owner = json.loads((dead / ".owner.json").read_text())
    (dead / ".owner.json").write_text(json.dumps({**owner, "pid": _dead_pid()}))
    parked = tmp_path / ".OUT.partial-abcd1234"
    parked.mkdir()
    (dead / "elsewhere.json").write_text(json.dumps([str(parked)]))
    assert run.remove_stale_work() == [dead]
    assert mine.is_dir() and not dead.exists() and not parked.exists()
    with run.work_folder("launch") as launch:
        assert launch.is_dir() and launch.parent == run.work_dir
    assert not launch.exists()


def test_an_export_with_a_work_folder_writes_inside_it(tmp_path):
    run = TrainingRun(tmp_path / "run")
    work = run.new_work_folder("export")
    seen = []  # (what is beside the export, what is in the work folder) at every event

    def on_event(event):
        seen.append(
            (sorted(p.name for p in (tmp_path / "out").iterdir()), sorted(p.name for p in work.iterdir()))
        )

    (tmp_path / "out").mkdir()
    export_dataset(
        ExportConfig(out_dir=tmp_path / "out" / "OUT", formats=("nifti",)),
        [case("syn_0001", size_xyz=(12, 10, 4))],
        table(),
        on_event,
        work_dir=work,
    )
    assert any(beside == [] and "export" in inside for beside, inside in seen), (
        "written inside the work folder"
    )
    assert all(beside in ([], ["OUT"]) for beside, _ in seen), "nothing but the finished export beside it"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["OUT"]
    assert (tmp_path / "out" / "OUT" / "manifest.json").is_file() and not (work / "export").exists()


@pytest.mark.parametrize("name", ["data", "images", "run", "12"])
def test_generic_words_and_short_numbers_are_never_looked_for(tmp_path, name):
    r = Release(TrainingRun(tmp_path / "run").release_key(), KnownTerms(cases={name}, other={name}))
    assert r.text(f"the {name} of the run") == f"the {name} of the run"


REPORT_KEYS = {
    "utility_study": {"recommended": {"ratio": 2.0, "label_source": "augment"}, "conditions": [],
                      "rare_label": "lesion", "budget": {"seeds": 3}},
    "realism": {"per_plane": {"sagittal": {"ssim": 0.5}}, "through_plane": {"ratio": 1.0},
                "seed_diversity": {"mean_abs_difference": 15.0}, "bone_p95": {"ratio": 0.9}},
    "fidelity": {"per_case": {}}, "memorization": {"closest_pairs": []}, "heldout": {"cases": []},
    "verdicts": {"diversity": {"status": "good"}}, "intensity_w1": {}, "tstr": {"dice_mixed": 0.5},
}


def test_a_run_kept_in_folders_named_like_the_report_keeps_its_keys(tmp_path):
    # a run in /…/utility/study/realism/ (a user's own folder names) and a dataset named "fidelity":
    # the report's keys are SynthVol's words, never the user's, and stay as written
    run = TrainingRun(tmp_path / "utility" / "study" / "realism" / "run")
    run.folder.mkdir(parents=True)
    dataset = tmp_path / "fidelity"
    run.manifest_path.write_text(json.dumps({"dataset": str(dataset), "cases": [], "split": {}}))
    released = Release.of(run).document(REPORT_KEYS)
    assert released == REPORT_KEYS
