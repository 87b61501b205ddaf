"""The training engine on the real demo data (CPU, tiny models): run folder, events, exact resume,
reproducibility, stop/pause, guard rails."""

from __future__ import annotations

import dataclasses
import json
import threading

import pytest
import torch

from engine.errors import CheckpointError, ConfigError, TrainingError
from engine.events import CheckpointSaved, Control, Finished, Losses, Preview, Progress, StateChanged
from engine.training.checkpoints import latest_checkpoint, load_checkpoint
from engine.training.config import TrainingConfig
from engine.training.run_folder import TrainingRun
from engine.training.trainer import train
from tests.engine.training_helpers import tiny_config


def _losses(run_folder):
    return {r["iteration"]: r["loss_g"] for r in TrainingRun(run_folder).read_metrics() if "loss_g" in r}


def test_run_folder_events_and_checkpoint(tmp_path):
    events = []
    result = train(tiny_config(tmp_path / "run"), on_event=events.append)
    run = TrainingRun(tmp_path / "run")
    for path in (run.config_path, run.label_table_path, run.normalization_path, run.manifest_path, run.metrics_path):
        assert path.is_file(), path
    config = run.read_config()
    assert config["world_size"] == 1 and config["device"] == "cpu"
    assert config["model"]["num_classes"] == 4
    manifest = run.read_manifest()
    assert manifest["split"]["mode"] == "slice_block"  # the demo is one case: a held-out block
    assert len(manifest["cases"][0]["sha256"]) == 64
    assert run.read_label_table().name(2) == "grey matter"
    assert run.sample_images(), "no preview PNG written"
    metrics = run.read_metrics()
    assert [m["iteration"] for m in metrics if "loss_g" in m] == [1, 2, 3, 4, 5, 6]
    assert all(0 < m["val_ssim"] <= 1 for m in metrics if "val_ssim" in m)
    kinds = {type(e) for e in events}
    assert {Progress, Losses, Preview, CheckpointSaved, StateChanged, Finished} <= kinds
    preview = next(e for e in events if isinstance(e, Preview))
    assert set(preview.images) == {"real", "fake", "label"} and preview.images["fake"].ndim == 3
    assert all(not isinstance(v, torch.Tensor) for e in events if isinstance(e, Losses) for v in e.values.values())
    assert result.iteration == 6 and not result.stopped
    state = load_checkpoint(latest_checkpoint(run.checkpoints_dir))  # weights_only=True inside
    assert state["iteration"] == 6
    torch.load(run.checkpoints_dir / "last.pt", weights_only=True)


def test_same_seed_same_losses_on_cpu(tmp_path):
    train(tiny_config(tmp_path / "a", iterations=3))
    train(tiny_config(tmp_path / "b", iterations=3))
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    train(tiny_config(tmp_path / "c", iterations=3, seed=5))
    assert _losses(tmp_path / "c") != _losses(tmp_path / "a")


def _stop_at(iteration: int):
    control = Control()

    def on_event(e):
        if isinstance(e, Progress) and e.done == iteration:
            control.stop()

    return on_event, control


def test_resume_continues_exactly(tmp_path):
    train(tiny_config(tmp_path / "straight", iterations=6))
    on_event, control = _stop_at(3)
    first = train(tiny_config(tmp_path / "split", iterations=6), on_event, control)
    assert first.stopped and first.iteration == 3
    result = train(tiny_config(tmp_path / "split", iterations=6, resume=True))
    assert result.iteration == 6
    a, b = _losses(tmp_path / "straight"), _losses(tmp_path / "split")
    assert list(b) == [1, 2, 3, 4, 5, 6], "metrics duplicated or lost across the resume"
    for it in a:
        assert a[it] == pytest.approx(b[it], rel=1e-5, abs=1e-6), f"iteration {it} differs after resume"
    wa = load_checkpoint(tmp_path / "straight/checkpoints/last.pt")["generator"]
    wb = load_checkpoint(tmp_path / "split/checkpoints/last.pt")["generator"]
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=1e-6), k


def test_new_run_refuses_a_folder_with_a_run(tmp_path):
    train(tiny_config(tmp_path / "run", iterations=3))
    with pytest.raises(TrainingError, match="already holds a training run"):
        train(tiny_config(tmp_path / "run", iterations=3))
    with pytest.raises(TrainingError, match="Nothing to resume"):
        train(tiny_config(tmp_path / "empty", iterations=3, resume=True))


def test_stop_writes_a_checkpoint_and_pause_holds(tmp_path):
    control = Control()
    seen = []

    def on_event(e):
        seen.append(e)
        if isinstance(e, Progress) and e.done == 2:
            control.pause()
            threading.Timer(0.3, control.stop).start()

    result = train(tiny_config(tmp_path / "run", iterations=50, checkpoint_every=100), on_event, control)
    assert result.stopped and result.iteration == 2, "stop must act within one iteration"
    assert any(isinstance(e, StateChanged) and e.state == "paused" for e in seen)
    ckpt = load_checkpoint(latest_checkpoint(TrainingRun(tmp_path / "run").checkpoints_dir))
    assert ckpt["iteration"] == 2


def test_nan_losses_stop_with_advice_and_keep_last_checkpoint(tmp_path, monkeypatch):
    from engine.training import gan

    real_step = gan.GanTrainer.step
    calls = {"n": 0}

    def poisoned(self, label_ctx, real):
        calls["n"] += 1
        if calls["n"] == 5:
            real = real * float("nan")
        return real_step(self, label_ctx, real)

    monkeypatch.setattr(gan.GanTrainer, "step", poisoned)
    with pytest.raises(TrainingError) as info:
        train(tiny_config(tmp_path / "run", iterations=10, checkpoint_every=3))
    msg = str(info.value)
    assert "NaN" in msg and "iteration 5" in msg and "learning rate" in msg and "iteration 3" in msg
    assert load_checkpoint(tmp_path / "run/checkpoints/last.pt")["iteration"] == 3


def test_incompatible_checkpoint_is_refused_with_what_differs(tmp_path):
    train(tiny_config(tmp_path / "run", iterations=3))
    run = TrainingRun(tmp_path / "run")
    record = run.read_config()
    record["training"]["arch"] = "pix2pix_unet"
    run.write_config(record)
    with pytest.raises(CheckpointError, match="architecture"):
        train(tiny_config(tmp_path / "run", iterations=6, resume=True))


def test_config_validation_names_the_bad_settings():
    with pytest.raises(ConfigError) as info:
        TrainingConfig(data="x", run="y", image_size=100, batch_size=0, class_balance=2.0).validate()
    msg = str(info.value)
    assert "image size 100" in msg and "batch size 0" in msg and "class balance" in msg
    cfg = TrainingConfig(data="x", run="y", preset="quick").validate()
    assert cfg.image_size == 128 and cfg.batch_size == 4
    assert TrainingConfig.from_json(json.loads(json.dumps(cfg.to_json()))) == cfg
    with pytest.raises(ConfigError, match="unknown setting"):
        TrainingConfig.from_json({"imagesize": 3})


def test_validation_ssim_rises(tmp_path):
    cfg = tiny_config(tmp_path / "run", iterations=40, val_every=20, log_every=20, checkpoint_every=40,
                      image_size=64, base_channels=16, model_overrides={"max_channels": 64})
    train(cfg)
    ssim = [r["val_ssim"] for r in TrainingRun(tmp_path / "run").read_metrics() if "val_ssim" in r]
    assert len(ssim) == 2 and ssim[1] > ssim[0]


def test_resume_may_extend_iterations_but_keeps_the_model(tmp_path):
    train(tiny_config(tmp_path / "run", iterations=3))
    cfg = dataclasses.replace(tiny_config(tmp_path / "run", iterations=5, resume=True), base_channels=None)
    result = train(cfg)
    assert result.iteration == 5


def test_out_of_memory_retries_with_a_smaller_batch_and_says_so(tmp_path, monkeypatch):
    from engine.events import Log
    from engine.training import gan

    real_step = gan.GanTrainer.step
    sizes = []

    def step(self, label_ctx, real):
        slices = real.shape[0] * (real.shape[1] if real.dim() == 5 else 1)  # stacks of d_slices slices
        sizes.append(slices)
        if slices > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_step(self, label_ctx, real)

    monkeypatch.setattr(gan.GanTrainer, "step", step)
    events = []
    result = train(tiny_config(tmp_path / "run", iterations=4, batch_size=8), on_event=events.append)
    assert result.iteration == 4
    assert sizes[:3] == [8, 4, 2] and set(sizes[3:]) == {2}
    warnings = [e.text for e in events if isinstance(e, Log) and e.level == "warning"]
    assert any("batch size 8" in w and "retrying with batch size 4" in w for w in warnings)
    assert TrainingRun(tmp_path / "run").read_config()["training"]["batch_size"] == 2


def test_memory_planner_scales_with_batch_and_picks_a_batch_that_fits():
    from engine.models.config import preset
    from engine.training.memory_plan import MemoryEstimate, estimate_memory

    est = estimate_memory(preset("quick", num_classes=3, image_size=64, base_channels=8), torch.device("cpu"), "fp32")
    assert est.per_sample_bytes > 0 and est.bytes_for(8) > est.bytes_for(2)
    tight = MemoryEstimate("cuda:0", "bf16", fixed_bytes=1 << 30, per_sample_bytes=1 << 28, available_bytes=4 << 30, measured="x")
    b = tight.largest_batch()
    assert tight.bytes_for(b) <= 0.85 * (4 << 30) < tight.bytes_for(b + 1)


def test_auto_batch_size_is_planned_and_said(tmp_path):
    from engine.events import Log

    events = []
    result = train(tiny_config(tmp_path / "run", iterations=1, batch_size=None, auto_batch=True), on_event=events.append)
    said = [e.text for e in events if isinstance(e, Log) and e.text.startswith("Batch size auto")]
    assert said and result.iteration == 1
    planned = TrainingRun(tmp_path / "run").read_config()["training"]["batch_size"]
    assert planned >= 1 and f"Batch size auto: {planned}" in said[0]
