"""The utility study: the 95 % interval on known numbers, the class-balanced sampler, a
deterministic MONAI segmenter, an unlearnable rare label flagged, the whole study on a tiny
patient-level run (held-out patients never in training, schema, page, verdict, stop), the CLI, and
the ``augmented-real`` label source."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from scipy import stats

from engine.cli import main as cli_main
from engine.errors import Cancelled, EvaluationError
from engine.evaluation import EvaluateConfig, FunctionSliceGenerator, evaluate_run, report_problems
from engine.evaluation.real_data import load_evaluation_data
from engine.evaluation.segmenter import (
    ClassBalancedSampler,
    SegmenterBudget,
    hd95_per_class,
    predict,
    train_segmenter,
)
from engine.evaluation.study import CONDITIONS, StudySettings, heldout_set, summarise
from engine.evaluation.utility import TestSet, mean_ci95, score_condition, single_test_set
from engine.evaluation.verdicts import utility_study_verdict
from engine.events import Control, Progress
from engine.synthesis import GenerateConfig, generate_volumes
from engine.synthesis.augmentation import AugmentParams, augment_volume
from engine.training.run_folder import TrainingRun
from engine.training.trainer import train
from tests.engine.test_evaluation import _ct_dataset, _small, _tiny_training
from tests.engine.test_evaluation_measures import brain_like

NAMES = {0: "background", 1: "tissue", 2: "core"}
TINY = SegmenterBudget(iterations=40, batch_size=4, lr=3e-3)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- arrays


def test_ci95_on_known_numbers():
    mean, ci = mean_ci95([0.5, 0.6, 0.7])
    lo, hi = stats.t.interval(0.95, 2, loc=0.6, scale=stats.sem([0.5, 0.6, 0.7]))
    assert mean == pytest.approx(0.6) and ci == pytest.approx([lo, hi])
    # one test case: the same Student-t interval over the seeds
    assert mean_ci95([[0.5], [0.6], [0.7]])[1] == pytest.approx([lo, hi])
    # seeds x cases: the seed and case components add, with Welch-Satterthwaite degrees of freedom
    m = np.array([[0.5, 0.7], [0.6, 0.8], [0.7, 0.9]])
    a = np.var([0.6, 0.7, 0.8], ddof=1) / 3  # seed means
    b = np.var([0.6, 0.8], ddof=1) / 2  # case means
    df = (a + b) ** 2 / (a**2 / 2 + b**2 / 1)
    half = stats.t.ppf(0.975, df) * math.sqrt(a + b)
    mean2, ci2 = mean_ci95(m)
    assert mean2 == pytest.approx(0.7) and ci2 == pytest.approx([0.7 - half, 0.7 + half])
    assert mean_ci95([0.4])[1] is None  # one seed: no interval
    assert mean_ci95([0.9, 0.95, 1.0], clip=(0.0, 1.0))[1][1] == 1.0  # Dice never above 1


def test_class_balanced_sampler_shows_a_rare_label_and_crops_hold_it():
    classes = np.zeros((100, 32, 32), np.uint8)
    classes[:, 8:24, 8:24] = 1
    classes[:2, 14:17, 14:17] = 2  # a rare label in 2 of 100 slices
    sampler = ClassBalancedSampler(classes, 3, oversample=0.5)
    rng = np.random.default_rng(0)
    idx, chosen = sampler.draw(rng, 4000)
    share = np.isin(idx, [0, 1]).mean()
    assert 0.2 < share < 0.3  # about half of the balanced half, against 2% drawn uniformly
    origins = sampler.crops(rng, idx[:200], chosen[:200], (8, 8))
    for i, c, (y0, x0) in zip(idx[:200], chosen[:200], origins):
        assert 0 <= y0 <= 24 and 0 <= x0 <= 24
        if c >= 0:
            assert (classes[i, y0 : y0 + 8, x0 : x0 + 8] == c).any()


def test_hd95_on_known_shapes():
    truth = np.zeros((3, 20, 20), np.uint8)
    truth[:, 5:10, 5:10] = 1
    truth[:, 12:15, 12:15] = 2
    pred = truth.copy()
    pred[:, 5:10, 10:13] = 1  # label 1 three columns too wide: 3 px = 1.5 mm at 0.5 mm in x
    hd = hd95_per_class(pred, truth, [1, 2, 3], (2.0, 1.0, 0.5))
    assert hd[1] == pytest.approx(1.5) and hd[2] == 0.0 and hd[3] is None


def test_segmenter_is_deterministic_for_a_seed():
    images, classes = brain_like(n=8, size=32)
    budget = SegmenterBudget(iterations=5, batch_size=2)
    a = train_segmenter(images, classes, 3, budget)
    b = train_segmenter(images, classes, 3, budget)
    c = train_segmenter(images, classes, 3, SegmenterBudget(iterations=5, batch_size=2, seed=1))
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))
    assert np.array_equal(predict(a, images), predict(b, images))


def test_an_unlearnable_rare_label_is_flagged():
    images, classes = brain_like(n=12, size=32, seed=0)
    rng = np.random.default_rng(1)
    for i in range(len(classes)):  # label 3: squares with no trace in the image
        y, x = rng.integers(8, 22, 2)
        classes[i, y : y + 3, x : x + 3] = 3
    test_img, test_cls = brain_like(n=6, size=32, seed=1, shift=2)
    for i in range(len(test_cls)):
        y, x = rng.integers(8, 22, 2)
        test_cls[i, y : y + 3, x : x + 3] = 3
    names = {**NAMES, 3: "lesion"}
    test = single_test_set(test_img, test_cls)
    conds = [
        {
            "name": "real",
            "ratio": 0.0,
            "label_source": None,
            "augmentation": False,
            **score_condition((images, classes), test, names, TINY, [0, 1], rare="lesion"),
        },
        {
            "name": "real+augmentation",
            "ratio": 0.0,
            "label_source": None,
            "augmentation": True,
            **score_condition((images, classes), test, names, TINY, [0, 1], rare="lesion"),
        },
    ]
    assert conds[0]["per_label"]["tissue"]["dice_mean"] > 0.7  # the learnable labels are learnt
    assert conds[0]["per_label"]["lesion"]["rare"] and conds[0]["per_label"]["lesion"]["dice_mean"] < 0.1
    summary = summarise(conds, "lesion")
    assert summary["unlearned_labels"] == ["lesion"]
    assert summary["recommended"]["ratio"] is None  # no mix, nothing to recommend
    study = {
        "conditions": conds,
        "segmenter": {"iterations": 40, "batch_size": 4, "lr": 3e-3, "patch_size": [32, 32]},
        "seeds": [0, 1],
        "test_cases": 1,
        "patient_level": True,
        "rare_label": "lesion",
        **summary,
    }
    verdict = utility_study_verdict(study)
    assert "No condition learns lesion" in verdict["text"] and "Indicative only" in verdict["text"]
    assert "40 iterations" in verdict["text"] and verdict["status"] != "good"


# --------------------------------------------------------------------------- on a tiny trained run


@pytest.fixture(scope="module")
def ct_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("study")
    data = _ct_dataset(base / "data", [(10, 40, 40), (10, 44, 38), (10, 36, 42), (10, 40, 44), (10, 42, 36)])
    train(_tiny_training(data, base / "run", val_fraction=0.4))
    return base / "run"


def painter(ctx: np.ndarray, seed) -> np.ndarray:
    """A stand-in generator: each class painted with its own intensity, plus a little noise."""
    levels = np.array([-1.0, 0.05, 0.5])
    k = ctx.shape[1] // 3 // 2
    centre = ctx[:, 3 * k : 3 * (k + 1)]
    img = np.tensordot(levels, centre, axes=([0], [1]))
    return np.clip(img + np.random.default_rng(seed or 0).normal(0, 0.02, img.shape), -1, 1)


def _study_config(run, out, **kw) -> EvaluateConfig:
    return _small(
        run,
        out,
        **{"segmenter_iterations": 3, "study": True, "study_ratios": (0.5, 1.0), "study_seeds": 2, **kw},
    )


def test_the_study_on_a_patient_level_split(ct_run, tmp_path):
    events = []
    out = tmp_path / "report"
    report = evaluate_run(
        _study_config(ct_run, out), on_event=events.append, generator=FunctionSliceGenerator(painter)
    )
    assert report_problems(report) == []
    study = report["utility_study"]
    split = json.loads((ct_run / "data_manifest.json").read_text())["split"]
    assert study["test_cases"] == len(split["val_cases"]) == 2 and study["patient_level"]
    names = [c["name"] for c in study["conditions"]]
    assert set(names) == set(CONDITIONS) and names.count("real+synthetic") == 3 * 2
    for c in study["conditions"]:
        assert c["seeds"] == [0, 1] and len(c["per_seed"]) == 2 and len(c["per_case"]) == 2
        assert 0.0 <= c["dice_ci95"][0] <= c["dice_mean"] <= c["dice_ci95"][1] <= 1.0
        assert set(c["per_label"]) == {"label 1", "label 2"}
    best = max(
        (c for c in study["conditions"] if c["name"] == "real+synthetic"), key=lambda c: c["dice_mean"]
    )
    rsa = study["conditions"][-1]
    assert rsa["name"] == "real+synthetic+augmentation" and rsa["augmentation"]
    assert (rsa["ratio"], rsa["label_source"]) == (best["ratio"], best["label_source"])
    assert "recommended" in study and study["segmenter"]["iterations"] == 3
    assert report["verdicts"]["utility_study"]["text"].startswith("Indicative only (2 held-out patient(s))")
    assert report["verdicts"]["utility_study"]["status"] in ("fair", "poor")
    assert report["tstr"]["from_study"] and report["tstr"]["dice_real"] == study["conditions"][0]["dice_mean"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Utility study" in html and "rare: " in html and "real+synthetic+augmentation" in html
    assert (out / "utility_study.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "report.json").read_text())["utility_study"]["conditions"][0]["name"] == "real"
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done == progress[-1].total  # the plan counts the study's work exactly
    assert any(e.message.startswith("Utility study: real+synthetic") for e in progress)


def test_held_out_patients_are_never_in_training(ct_run):
    data = load_evaluation_data(TrainingRun(ct_run))
    held = heldout_set(data, data.heldout_rows)
    assert not set(held.cases) & set(data.case_of(data.train_rows))
    # a test set holding a training patient is refused
    leaky = TestSet(
        held.images,
        held.classes,
        [data.case_of(data.train_rows[:1])[0]] * len(held.cases),
        held.z,
        held.spacing,
    )
    from engine.evaluation.study import _check_split

    with pytest.raises(EvaluationError, match="training patient"):
        _check_split(data, leaky)


def test_the_study_stops_within_an_iteration(ct_run, tmp_path):
    control = Control()
    seen = []

    def on_event(e):
        if isinstance(e, Progress):
            seen.append(e.done)
            if e.message.startswith("Utility study: real") and not control.stop_requested:
                control.stop()
                seen.append("stop")

    with pytest.raises(Cancelled):
        evaluate_run(
            _study_config(ct_run, tmp_path / "stopped", segmenter_iterations=50),
            on_event=on_event,
            control=control,
            generator=FunctionSliceGenerator(painter),
        )
    assert len(seen) - seen.index("stop") <= 3  # stopped at the next iteration, not after 50
    assert not (tmp_path / "stopped" / "report.json").exists()


def test_study_settings_are_checked():
    with pytest.raises(EvaluationError, match="ratios"):
        StudySettings(ratios=(0.0,)).validate()
    with pytest.raises(EvaluationError, match="sources"):
        StudySettings(sources=("gan",)).validate()


def test_evaluate_study_cli(ct_run, tmp_path, capsys):
    out = tmp_path / "cli"
    code = cli_main(
        [
            "evaluate",
            "--run",
            str(ct_run),
            "--out",
            str(out),
            "--study",
            "--ratios",
            "0.5",
            "--sources",
            "train",
            "--seeds",
            "2",
            "--segmenter-iterations",
            "2",
            "--segmenter-batch-size",
            "2",
            "--max-slices",
            "8",
            "--samples",
            "2",
            "--diversity-maps",
            "2",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "| condition | mean Dice [95% CI]" in text and "Utility study" in text
    study = json.loads((out / "report.json").read_text())["utility_study"]
    assert study["ratios"] == [0.5] and study["sources"] == ["train"] and study["seeds"] == [0, 1]
    assert cli_main(["evaluate", "--run", str(ct_run), "--out", str(out), "--study", "--ratios", "0"]) == 1


# --------------------------------------------------------------------------- augmented-real


def _volume():
    arr = np.full((10, 40, 40), -1000.0, np.float32)
    arr[:, 8:32, 8:32] = 40.0
    arr[:, 16:24, 16:24] = 300.0
    arr += np.random.default_rng(0).normal(0, 5, arr.shape).astype(np.float32)
    lab = np.zeros(arr.shape, np.uint8)
    lab[:, 8:32, 8:32] = 1
    lab[:, 16:24, 16:24] = 2
    img, lbl = sitk.GetImageFromArray(arr), sitk.GetImageFromArray(lab)
    for im in (img, lbl):
        im.SetSpacing((1.0, 1.0, 2.0))
    return img, lbl


def test_augment_volume_is_identity_without_transforms_and_deterministic():
    img, lbl = _volume()
    off = AugmentParams(p_spatial=0, p_flip=0, p_gamma=0, p_noise=0, p_bias=0)
    same_img, same_lbl = augment_volume(img, lbl, off, seed=3)
    assert np.allclose(sitk.GetArrayFromImage(same_img), sitk.GetArrayFromImage(img), atol=1e-2)
    assert np.array_equal(sitk.GetArrayFromImage(same_lbl), sitk.GetArrayFromImage(lbl))
    full = AugmentParams(p_spatial=1, p_flip=0, p_gamma=1, p_noise=1, p_bias=1)
    a, la = augment_volume(img, lbl, full, seed=3)
    b, lb = augment_volume(img, lbl, full, seed=3)
    c, _ = augment_volume(img, lbl, full, seed=4)
    assert np.array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b))
    assert np.array_equal(sitk.GetArrayFromImage(la), sitk.GetArrayFromImage(lb))
    assert not np.array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(c))
    assert set(np.unique(sitk.GetArrayFromImage(la))) <= {0, 1, 2}
    assert a.GetSpacing() == img.GetSpacing() and la.GetSize() == lbl.GetSize()
    # still the same anatomy: the core stays brighter than the tissue around it
    arr, lab = sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(la)
    assert arr[lab == 2].mean() > arr[lab == 1].mean() + 100


def test_generate_augmented_real_takes_its_image_from_augmentation(ct_run, tmp_path):
    result = generate_volumes(
        GenerateConfig(
            run=ct_run, count=2, label_source="augmented-real", device="cpu", gallery=tmp_path / "g"
        )
    )
    assert len(result.items) == 2
    manifest = json.loads((ct_run / "data_manifest.json").read_text())
    for item in result.items:
        meta = json.loads((item.folder / "case.json").read_text())
        assert (
            meta["label_source"]["kind"] == "augmented-real" and meta["image_from"] == "augmented real case"
        )
        assert (
            meta["checkpoint_sha256"] is None
            and meta["label_source"]["source_case"] in manifest["split"]["train_cases"]
        )
        image, label = item.load()
        arr, lab = sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(label)
        assert image.GetSize() == label.GetSize()
        # a CT image in HU with its anatomy (a 2-iteration GAN draws nothing like it)
        assert arr[lab == 0].mean() < -500 and arr[lab == 2].mean() > arr[lab == 1].mean()


def test_report_checks_catch_a_broken_study():
    def cond(name, mean=0.5, ci=(0.4, 0.6)):
        return {
            "name": name,
            "ratio": 0.0,
            "label_source": None,
            "augmentation": False,
            "seeds": [0, 1, 2],
            "dice_mean": mean,
            "dice_ci95": list(ci),
            "per_label": {"tissue": {"dice_mean": mean}},
        }

    good = {
        "segmenter": {},
        "test_cases": 1,
        "conditions": [cond("real"), cond("real+augmentation"), cond("synthetic")],
    }
    assert [p for p in report_problems({"utility_study": good}) if p.startswith("utility_study")] == []
    bad = {**good, "conditions": [cond("real", 1.2), cond("gan only"), cond("synthetic", 0.5, (0.6, 0.7))]}
    problems = [p for p in report_problems({"utility_study": bad}) if p.startswith("utility_study")]
    assert any("conditions[0].dice_mean" in p for p in problems)
    assert any("'gan only' is not one of" in p for p in problems)
    assert any("conditions[2].dice_ci95" in p for p in problems)
    assert any("no 'real+augmentation' condition" in p for p in problems)
