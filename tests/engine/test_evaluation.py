"""The quality report: each measure on arrays with known answers (identical data, noise, hand-made
Dice cases, real data as "synthetic"), then the whole report on tiny trained runs (the demo's
single-case split, a patient-level CT split, another dataset), cancel, and the CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import Cancelled, EvaluationError
from engine.evaluation import (
    EvaluateConfig,
    FunctionSliceGenerator,
    dice_per_class,
    diversity_measures,
    evaluate_run,
    fidelity_measures,
    intensity_w1,
    memorization_measures,
    read_quality_report,
    report_problems,
    tstr_measures,
)
from engine.evaluation.diversity import COLLAPSE_MS_SSIM, ms_ssim, ms_ssim_scales
from engine.evaluation.fidelity import PSNR_CAP_DB
from engine.evaluation.schema import clean_json
from engine.evaluation.segmenter import SegmenterBudget
from engine.events import Control, Finished, Progress
from engine.resources import DEMO_DATASET
from engine.training.config import TrainingConfig
from engine.training.trainer import train
from tests.engine.data_factory import phantom, phantom_label, write_volume
from tests.engine.training_helpers import tiny_config

REPO = Path(__file__).resolve().parents[2]
NAMES = {0: "background", 1: "tissue", 2: "core"}
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


# --------------------------------------------------------------------------- array fixtures


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One thread, as SYNTHVOL_TORCH_THREADS asks: on shared cores, OpenMP threads waiting on each
    other can make the small segmenters ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def brain_like(n: int = 6, size: int = 64, seed: int = 0, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Slices in [-1, 1] with two labelled structures whose size and position change per slice."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    images, labels = [], []
    for i in range(n):
        cy, cx = size / 2 + shift + i % 3, size / 2 - shift + i // 2
        r = ((yy - cy) / (0.30 * size + i)) ** 2 + ((xx - cx) / (0.36 * size - i)) ** 2
        lab = np.where(r < 1, 1, 0) + np.where(
            ((yy - cy - 4) ** 2 + (xx - cx + 3) ** 2) < (5 + i) ** 2, 1, 0
        ) * (r < 1)
        img = np.choose(lab, [-1.0, 0.1, 0.7]) + rng.normal(0, 0.05, (size, size))
        img += 0.1 * np.sin(xx / (3 + i)) * (lab > 0)
        images.append(np.clip(img, -1, 1))
        labels.append(lab)
    return np.array(images, np.float32), np.array(labels, np.uint8)


# --------------------------------------------------------------------------- fidelity and intensity


def test_identical_data_gives_perfect_fidelity():
    real, lab = brain_like()
    f = fidelity_measures(real, real.copy(), lab, NAMES)
    assert f["psnr"] == PSNR_CAP_DB and math.isfinite(f["psnr"])  # inf is capped, never in the JSON
    assert f["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert f["ssim_foreground"] == pytest.approx(1.0, abs=1e-5)
    assert f["mae_units"] == 0.0
    assert all(v == 0.0 for v in f["label_mean_error"].values())
    w1 = intensity_w1(real, real.copy(), lab, NAMES)
    assert set(w1) == {"background", "tissue", "core"}
    assert all(v == pytest.approx(0.0, abs=1e-9) for v in w1.values())


def test_noise_generator_scores_badly_and_a_close_one_well():
    real, lab = brain_like(seed=1)
    rng = np.random.default_rng(5)
    noise = rng.uniform(-1, 1, real.shape).astype(np.float32)
    close = np.clip(real + rng.normal(0, 0.03, real.shape), -1, 1).astype(np.float32)
    bad, good = fidelity_measures(real, noise, lab, NAMES), fidelity_measures(real, close, lab, NAMES)
    assert bad["ssim"] < 0.1 and bad["ssim_foreground"] < 0.2 and bad["psnr"] < 10
    assert good["ssim"] > 0.5 and good["psnr"] > 25
    w1_bad, w1_good = intensity_w1(real, noise, lab, NAMES), intensity_w1(real, close, lab, NAMES)
    assert all(w1_bad[k] > 0.3 for k in NAMES.values())
    assert all(w1_good[k] < 0.05 for k in NAMES.values())


def test_per_label_error_in_units_and_empty_labels_left_out():
    real, lab = brain_like()
    hu_real = (real + 1) * 1000 - 1000
    hu_syn = hu_real + np.where(lab == 2, 50.0, 0.0)  # the core 50 HU too bright
    names = {**NAMES, 3: "absent"}
    f = fidelity_measures(real, real, lab, names, real_units=hu_real, synthetic_units=hu_syn)
    assert f["label_mean_error"]["core"] == pytest.approx(50.0, abs=1e-3)
    assert f["label_mean_error"]["tissue"] == pytest.approx(0.0, abs=1e-3)
    assert "absent" not in f["label_mean_error"] and f["labels_absent"] == ["absent"]
    w1 = intensity_w1(hu_real, hu_syn, lab, names)
    assert w1["core"] == pytest.approx(50.0, abs=1e-2) and "absent" not in w1


# --------------------------------------------------------------------------- diversity


def test_ms_ssim_scales_fit_the_image_size():
    assert ms_ssim_scales(128, 128) == 4
    assert ms_ssim_scales(64, 64) == 3
    assert ms_ssim_scales(256, 256) == 5
    a, _ = brain_like(n=2, size=128)
    assert ms_ssim(a, a)[0] == pytest.approx(1.0, abs=1e-5)


def test_diversity_detects_collapse():
    real, _ = brain_like(n=8, size=128)
    same = [np.repeat(real[i : i + 1], 4, axis=0) for i in range(2)]
    rng = np.random.default_rng(0)
    varied = [
        np.clip(real[i] + rng.normal(0, 0.4, (4, 128, 128)), -1, 1).astype(np.float32) for i in range(2)
    ]
    neighbours = [real[0:4], real[4:8]]
    collapsed, diverse = diversity_measures(same, neighbours), diversity_measures(varied, neighbours)
    assert collapsed["ms_ssim_synthetic"] == pytest.approx(1.0, abs=1e-5) and collapsed["collapsed"]
    assert diverse["ms_ssim_synthetic"] < COLLAPSE_MS_SSIM and not diverse["collapsed"]
    assert 0.0 < diverse["ms_ssim_real"] < 1.0


# --------------------------------------------------------------------------- memorisation


def test_memorization_flags_copies_of_training_slices():
    training, _ = brain_like(n=8, seed=0)
    heldout, _ = brain_like(n=6, seed=1, shift=4)
    m = memorization_measures(training[:6].copy(), training, heldout)
    assert m["flagged"] == 6 and m["nn_ratio"] == pytest.approx(0.0, abs=1e-6)
    pair = m["closest_pairs"][0]
    assert pair["flagged"] and np.array_equal(pair["synthetic_slice"], pair["training_slice"])


def test_memorization_does_not_flag_noise_or_new_anatomy():
    training, _ = brain_like(n=8, seed=0)
    heldout, _ = brain_like(n=6, seed=1, shift=4)
    noise = np.random.default_rng(3).uniform(-1, 1, heldout.shape).astype(np.float32)
    m = memorization_measures(noise, training, heldout)
    assert m["flagged"] == 0 and m["nn_ratio"] > 1.0
    other, _ = brain_like(n=6, seed=2, shift=4)  # new real-like anatomy: about as far as the held-out
    m2 = memorization_measures(other, training, heldout)
    assert m2["flagged"] == 0 and 0.8 < m2["nn_ratio"] < 1.25


# --------------------------------------------------------------------------- utility


def test_dice_against_hand_computed_cases():
    truth = np.array([[0, 1, 1, 0], [0, 1, 1, 0], [2, 2, 0, 0]])
    pred = np.array([[0, 1, 0, 0], [0, 1, 1, 1], [2, 0, 0, 0]])
    d = dice_per_class(pred, truth, [1, 2, 3])
    assert d[1] == pytest.approx(2 * 3 / (4 + 4))  # |P|=4, |T|=4, overlap 3
    assert d[2] == pytest.approx(2 * 1 / (1 + 2))
    assert d[3] is None  # in neither: undefined, never NaN
    assert dice_per_class(truth, truth, [1, 2]) == {1: 1.0, 2: 1.0}
    assert dice_per_class(np.zeros_like(truth), truth, [1])[1] == 0.0


@pytest.fixture(scope="module")
def seg_data():
    train_img, train_lab = brain_like(n=12, size=32, seed=0)
    test_img, test_lab = brain_like(n=6, size=32, seed=1, shift=2)
    return (train_img, train_lab), (test_img, test_lab)


def test_tstr_with_real_data_as_synthetic_equals_trtr(seg_data):
    real, test = seg_data
    settings = SegmenterBudget(iterations=60, batch_size=4, lr=3e-3, seed=3)
    t = tstr_measures(real, (real[0].copy(), real[1].copy()), test, NAMES, settings)
    assert t["dice_real"] > 0.7  # the segmenter learns this easy task
    assert t["dice_synthetic"] == pytest.approx(t["dice_real"], abs=1e-6)
    assert t["ratio"] == pytest.approx(1.0, abs=1e-6)
    assert set(t["per_label"]) == {"tissue", "core"}
    again = tstr_measures(real, real, test, NAMES, settings)
    assert again["dice_real"] == t["dice_real"] and again["dice_mixed"] == t["dice_mixed"]  # deterministic


def test_tstr_with_noise_as_synthetic_scores_low(seg_data):
    real, test = seg_data
    noise = np.random.default_rng(0).uniform(-1, 1, real[0].shape).astype(np.float32)
    t = tstr_measures(
        real, (noise, real[1]), test, NAMES, SegmenterBudget(iterations=60, batch_size=4, lr=3e-3)
    )
    assert t["dice_synthetic"] < t["dice_real"] - 0.2 and t["ratio"] < 0.7


# --------------------------------------------------------------------------- report.json schema


def test_report_checks_catch_nan_and_missing_keys():
    assert clean_json({"a": float("nan"), "b": np.float32(2), "c": np.arange(3)}) == {"a": None, "b": 2.0}
    problems = report_problems({"fidelity": {"psnr": None, "ssim": 1.0}})
    assert any("fidelity.psnr" in p for p in problems) and any("tstr" in p for p in problems)


# --------------------------------------------------------------------------- tiny trained runs


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
