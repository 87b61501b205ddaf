"""TensorBoard event files of a training run, read back with TensorBoard's own EventAccumulator:
grouped curves equal to metrics.jsonl, the preview images and the run's settings as hparams."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from engine.training.run_folder import TrainingRun
from engine.training.tensorboard_log import TensorBoardLog, tag_for
from engine.training.trainer import train
from tests.engine.training_helpers import tiny_config


def _accumulator(folder) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_training_writes_grouped_curves_previews_and_settings(tmp_path):
    run = tmp_path / "run"
    train(tiny_config(run, iterations=6))
    acc = _accumulator(TrainingRun(run).tensorboard_dir)
    scalars = set(acc.Tags()["scalars"])
    assert {"loss/generator", "loss/discriminator", "val/ssim", "val/psnr", "train/lr_generator"} <= scalars
    metrics = TrainingRun(run).read_metrics()
    for key, tag in (
        ("loss_g", "loss/generator"),
        ("loss_d", "loss/discriminator"),
        ("val_ssim", "val/ssim"),
    ):
        logged = [(r["iteration"], r[key]) for r in metrics if key in r]
        events = [(e.step, e.value) for e in acc.Scalars(tag)]
        assert [s for s, _ in events] == [i for i, _ in logged]
        np.testing.assert_allclose([v for _, v in events], [v for _, v in logged], rtol=1e-6)
    previews = acc.Images("preview")
    assert [p.step for p in previews] == [3, 6]  # preview_every 3
    # the same picture as the run's own preview PNG: label map | real | synthetic, a row per slice
    shown = np.asarray(Image.open(io.BytesIO(previews[-1].encoded_image_string)).convert("RGB"))
    saved = np.asarray(Image.open(TrainingRun(run).samples_dir / "iter_00000006.png").convert("RGB"))
    np.testing.assert_array_equal(shown, saved)
    hparams = acc.PluginTagToContent("hparams")
    session = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/session_start_info"])
    settings = session.session_start_info.hparams
    assert settings["preset"].string_value == "quick" and settings["image_size"].number_value == 64
    assert settings["device"].string_value == "cpu" and "data" not in settings and "run" not in settings
    experiment = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/experiment"])
    assert {m.name.tag for m in experiment.experiment.metric_infos} == {"val/ssim", "val/psnr", "val/l1"}


def test_a_resumed_writer_purges_what_the_interrupted_one_logged_after_its_checkpoint(tmp_path):
    folder = tmp_path / "tb"
    first = TensorBoardLog(folder, 0, {"preset": "quick"})
    for step in range(1, 9):
        first.scalars(step, {"loss_g": float(step)})
    first.flush()  # as if killed here; the checkpoint was at step 5
    resumed = TensorBoardLog(folder, 5)
    for step in range(6, 11):
        resumed.scalars(step, {"loss_g": 100.0 + step})
    resumed.close()
    events = _accumulator(folder).Scalars("loss/generator")
    assert [e.step for e in events] == list(range(1, 11))
    assert [e.value for e in events] == [*map(float, range(1, 6)), *(100.0 + s for s in range(6, 11))]


def test_tags_are_grouped():
    assert tag_for("loss_g") == "loss/generator" and tag_for("loss_fm") == "loss/feature_matching"
    assert tag_for("val_psnr") == "val/psnr" and tag_for("loss_new") == "loss/new"
    assert tag_for("time_s") is None and tag_for("iteration") is None


def test_a_quality_report_adds_its_measures_at_the_checkpoint_iteration(tmp_path):
    from engine.training.tensorboard_log import log_quality_report

    report = {
        "checkpoint_iteration": 250,
        "fidelity": {"ssim": 0.91, "psnr": 28.5, "per_class": {"1": 0.8}},
        "tstr": {"ratio": 0.97, "verdict": "good"},
        "memorization": {"flagged": True},
    }
    log_quality_report(tmp_path / "tb", report)
    acc = _accumulator(tmp_path / "tb")
    assert set(acc.Tags()["scalars"]) == {
        "quality/fidelity_ssim",
        "quality/fidelity_psnr",
        "quality/tstr_ratio",
    }
    assert [(e.step, round(e.value, 4)) for e in acc.Scalars("quality/fidelity_ssim")] == [(250, 0.91)]
    log_quality_report(tmp_path / "none", {"fidelity": {"ssim": 0.9}})  # no checkpoint iteration: nothing
    assert not (tmp_path / "none").exists()
