"""train(config, on_event, control): the training loop of the engine contract.

Events: Progress (iterations/s, ETA), Losses (every log_every; val_* every val_every), Preview,
CheckpointSaved, StateChanged (paused/running), Log, Finished(TrainingResult). Stop and pause take
effect within one iteration; stop writes a checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from engine.data.slices import IterationBatches
from engine.errors import Cancelled, CheckpointError, TrainingError
from engine.events import (
    CheckpointSaved,
    Control,
    EventCallback,
    Finished,
    Log,
    Losses,
    Preview,
    TaskState,
    ignore_events,
)
from engine.training import tensorboard_log
from engine.training.checkpoints import (
    check_compatible,
    file_error_text,
    latest_checkpoint,
    restore_rng_state,
    resume_checkpoint,
    rng_state,
    save_checkpoint,
)
from engine.training.config import TrainingConfig
from engine.training.devices import describe_cpu, set_cpu_threads
from engine.training.distributed import DistContext
from engine.training.gan import GanTrainer, NonFiniteLoss, step_settings_for
from engine.training.memory_plan import smaller_batch
from engine.training.run_control import RunControlFile, write_command
from engine.training.run_lock import RunLock
from engine.training.setup import (
    TrainingSetup,
    label_colors_by_class,
    lr_factor,
    prepare_training,
    seed_everything,
)
from engine.training.validation import (
    Validator,
    pick_validation_items,
    preview_arrays,
    preview_grid,
    save_preview_png,
)

log = logging.getLogger(__name__)


@dataclass
class TrainingResult:
    run: Path
    iteration: int
    iterations: int
    stopped: bool
    checkpoint: Path | None
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)


def train(config: TrainingConfig, on_event: EventCallback = ignore_events, control: Control | None = None) -> TrainingResult:
    control = control or Control()
    dist = DistContext.from_env()
    emit = on_event if dist.is_main else (lambda e: None)
    # one job per run folder (rank 0 holds the lock for the whole process group)
    lock = RunLock(config.run, "training", create=True) if dist.is_main and config.run is not None else None
    try:
        if lock is not None:
            lock.acquire()
            for text in lock.notes:
                emit(Log("warning", text))
        if config.auto_batch:
            from engine.training.memory_plan import plan_batch_size

            config = plan_batch_size(dataclasses.replace(config, device=dist.device(config.device)), emit)
        setup = prepare_training(config, emit, control, dist)
        dist.init(setup.device.type)
        result = _Loop(setup, emit, control, dist).run()
        # every rank done with its collectives before any tears the group down: a rank that
        # destroyed it and left while rank 0 still wrote its last checkpoint made gloo abort
        # rank 0 at exit now and then ("terminate called without an active exception")
        dist.barrier()
        return result
    except OSError as exc:  # a full disk, a folder made read-only meanwhile: a message, not a traceback
        raise TrainingError(f"Training stopped: {file_error_text(exc, config.run)} The checkpoints written so far "
                            "are kept; resume the run when the problem is solved.") from None
    finally:
        dist.shutdown()
        if lock is not None:
            lock.release()


class _Loop:
    def __init__(self, setup: TrainingSetup, emit: EventCallback, control: Control, dist: DistContext) -> None:
        self.s, self.emit, self.control, self.dist = setup, emit, control, dist
        cfg = setup.config
        if setup.device.type == "cpu":
            threads = set_cpu_threads(cfg.threads)
            emit(Log("info", f"Training on the CPU: {describe_cpu(threads, why=True)}, fp32"))
        else:
            torch.backends.cudnn.benchmark = True
            emit(Log("info", f"Training on {setup.device} ({setup.precision}, channels_last={setup.channels_last})"))
        seed_everything(cfg.seed)
        self.gan = GanTrainer(
            setup.model_cfg,
            step_settings_for(cfg, setup.precision, setup.channels_last),
            setup.device, cfg.lr_g, cfg.lr_d, (cfg.beta1, cfg.beta2), cfg.ema_decay,
        )
        self.start, self.elapsed_before = 0, 0.0
        self.last_ckpt_iteration: int | None = None
        self._resume()
        if dist.rank > 0:  # same weights on every rank (DDP broadcasts rank 0's), own noise per rank
            torch.manual_seed(cfg.seed * 1000 + dist.rank * 7919 + self.start)
        if dist.enabled:
            self.gan.wrap_ddp([setup.device.index] if setup.device.type == "cuda" else None)
        if cfg.compile:
            self.gan.gen_ddp = torch.compile(self.gan.gen_ddp)
            self.gan.disc_ddp = torch.compile(self.gan.disc_ddp)
        items = pick_validation_items(len(setup.val_ds), cfg.val_slices)
        self.validator = Validator(setup.val_ds, items, setup.device, setup.model_cfg.num_classes, cfg.context_slices)
        self.colors = label_colors_by_class(setup.prepared.label_table)
        self.control_file = RunControlFile(setup.run.control_path) if dist.is_main else None
        if self.control_file is not None:
            write_command(setup.run.control_path, "run")  # a stale "stop" from an earlier session must not stop us
        self.last_metrics: dict[str, float] = {}
        self.tb = tensorboard_log.for_training(setup, self.start, dist)  # RUN/tensorboard/, rank 0 only

    def _resume(self) -> None:
        s = self.s
        if not s.config.resume:
            return
        # the checkpoint asked for (refused if damaged), else the newest intact one
        ckpt, state, notes = resume_checkpoint(s.run.checkpoints_dir, s.config.resume_from, s.device)
        for text in notes:
            self.emit(Log("warning", text))
        if ckpt is None:
            self.emit(Log("warning", f"No checkpoint in {s.run.checkpoints_dir}: starting from iteration 0."))
            return
        check_compatible(state, s.model_cfg.signature(), ckpt)
        try:
            self.gan.load_state_dict(state["trainer"])
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f"{ckpt}: the weights do not fit this model ({str(exc).splitlines()[0]}).") from None
        restore_rng_state(state["rng"])
        self.start = int(state["iteration"])
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        self.last_ckpt_iteration = self.start
        if self.dist.is_main:
            dropped = s.run.truncate_metrics(self.start)
            self.emit(Log("info", f"Resumed from {ckpt.name} at iteration {self.start}"
                          + (f" ({dropped} metric lines after it dropped)" if dropped else "")))

    def _checkpoint(self, iteration: int) -> Path | None:
        if not self.dist.is_main or iteration == self.last_ckpt_iteration:
            return None
        s = self.s
        state = {
            "trainer": self.gan.state_dict(),
            "rng": rng_state(),
            "model_signature": s.model_cfg.signature(),
            "model_config": dataclasses.asdict(s.model_cfg),
            "generator": self.gan.ema.module.state_dict(),
            "elapsed_s": self.elapsed(),
            "world_size": self.dist.world_size,
        }
        path = save_checkpoint(state, s.run.checkpoints_dir, iteration, s.config.keep_checkpoints)
        self.last_ckpt_iteration = iteration
        self.emit(CheckpointSaved(str(path), iteration))
        return path

    def elapsed(self) -> float:
        return self.elapsed_before + (time.perf_counter() - self.t0 - self.state.paused_s)

    def _loader(self):
        return self._loader_from(self.start)

    def _shrink_batch(self) -> bool:
        """After CUDA ran out of memory: halve the batch and go on (recorded in config.json)."""
        cfg = self.s.config
        smaller = smaller_batch(cfg.batch_size)
        if smaller is None:
            return False
        if self.s.device.type == "cuda":
            torch.cuda.empty_cache()
        self.gan.opt_g.zero_grad(set_to_none=True)
        self.gan.opt_d.zero_grad(set_to_none=True)
        self.emit(Log("warning", f"Out of GPU memory at batch size {cfg.batch_size} (image size {cfg.image_size}); "
                                 f"retrying with batch size {smaller}."))
        self.s.config = dataclasses.replace(cfg, batch_size=smaller)
        if self.dist.is_main:
            record = self.s.run.read_config()
            record["training"]["batch_size"] = smaller
            record["batch_size_reduced_after_oom"] = True
            self.s.run.write_config(record)
        return True

    def _loader_from(self, start: int):
        cfg = self.s.config
        stacks = max(1, cfg.batch_size // self.s.model_cfg.d_slices)  # batch_size counts slices
        batches = IterationBatches(self.s.sampler, stacks, start, cfg.iterations, self.dist.rank)
        workers = max(0, int(cfg.num_workers))
        # its own generator: creating the iterator must not draw from the global RNG, or a resumed run
        # would see different random numbers than an uninterrupted one
        own_rng = torch.Generator().manual_seed(cfg.seed)
        return iter(DataLoader(self.s.train_ds, batch_sampler=batches, num_workers=workers, generator=own_rng,
                               pin_memory=self.s.device.type == "cuda", persistent_workers=False,
                               prefetch_factor=4 if workers else None))

    def _flags(self) -> tuple[bool, bool]:
        """(stop, pause) as rank 0 sees them (its Control and the run's control file), on every rank."""
        if self.control_file is not None:
            self.control_file.apply_to(self.control)
        return self.dist.broadcast_flag(self.control.stop_requested), self.dist.broadcast_flag(self.control.paused)

    def _write_state(self, state: str) -> None:
        """status.json tells a window watching from another process what the trainer is doing."""
        if self.dist.is_main:
            self.s.run.write_status({"state": state, "iteration": self._iteration, "iterations": self.s.config.iterations,
                                     "world_size": self.dist.world_size})

    def run(self) -> TrainingResult:
        s, cfg = self.s, self.s.config
        total = cfg.iterations
        self.t0 = time.perf_counter()
        # the pause/stop point (paused time is not training time) and the progress with rate and ETA
        self.state = TaskState(self.emit, self.control, total, self.start, flags=self._flags, on_state=self._write_state)
        self._iteration = self.start
        self.state.state_changed("running")
        self.state.progress(self.start, "Training")
        it = self.start
        stopped = False
        loader = self._loader()
        try:
            while it < total:
                self.state.check()
                batch = next(loader)
                self.gan.set_lr_factor(lr_factor(it, total, cfg.lr_decay_start))
                try:
                    losses = self.gan.step(batch["label"], batch["image"])
                except NonFiniteLoss as exc:
                    raise self._nan_error(it + 1, exc) from None
                except torch.OutOfMemoryError:
                    if not self._shrink_batch():
                        raise self._oom_error() from None
                    loader = self._loader_from(it)
                    continue
                it += 1
                self._iteration = it
                self._after_step(it, losses)
        except Cancelled:
            stopped = True
        finally:
            if self.tb is not None:
                self.tb.close()
        ckpt = self._checkpoint(it)
        if ckpt is None:
            ckpt = latest_checkpoint(s.run.checkpoints_dir)
        result = TrainingResult(s.run.folder, it, total, stopped, ckpt, self.elapsed(), self.last_metrics)
        rank_steps = self.dist.gather_ints(it - self.start)
        if self.dist.is_main:
            s.run.write_status({"state": "stopped" if stopped else "finished", "iteration": it, "iterations": total,
                                "world_size": self.dist.world_size, "steps_per_rank": rank_steps})
            self.emit(Log("info", f"{'Stopped' if stopped else 'Finished'} at iteration {it}/{total}; run in {s.run.folder}"))
        self.emit(Finished(result))
        return result

    def _after_step(self, it: int, losses: dict[str, float]) -> None:
        cfg, s = self.s.config, self.s
        record: dict = {}
        if it % cfg.log_every == 0 or it == cfg.iterations:
            record.update(losses)
            record["lr_g"] = cfg.lr_g * lr_factor(it - 1, cfg.iterations, cfg.lr_decay_start)
        if self.dist.is_main and (it % cfg.val_every == 0 or it == cfg.iterations):
            metrics, fake = self.validator.evaluate(self.gan.ema.module, s.channels_last)
            record.update(metrics)
            if it % cfg.preview_every == 0 or it == cfg.iterations:
                images = preview_arrays(self.validator.images, fake, self.validator.centre_classes())
                path = save_preview_png(s.run.samples_dir / f"iter_{it:08d}.png", images, self.colors)
                if self.tb is not None:
                    self.tb.preview(it, preview_grid(images, self.colors))
                self.emit(Preview(it, images, str(path)))
        if record and self.dist.is_main:
            self.last_metrics.update(record)
            s.run.append_metrics({"iteration": it, "time_s": round(self.elapsed(), 3), **record})
            if self.tb is not None:
                self.tb.scalars(it, record)
            self.emit(Losses(it, {k: v for k, v in record.items() if k.startswith(("loss_", "val_"))}))
        if it % cfg.checkpoint_every == 0 and it != cfg.iterations:
            self._checkpoint(it)
        self.state.progress(it, "Training")

    def _nan_error(self, iteration: int, exc: NonFiniteLoss) -> TrainingError:
        cfg = self.s.config
        kept = (f"the last good checkpoint (iteration {self.last_ckpt_iteration}) is kept in "
                f"{self.s.run.checkpoints_dir}" if self.last_ckpt_iteration is not None else "no checkpoint was written yet")
        return TrainingError(
            f"Training stopped: the losses became NaN or infinite at iteration {iteration} ({exc}); {kept}. "
            f"Try a lower learning rate (e.g. lr_g {cfg.lr_g / 2:g}, lr_d {cfg.lr_d / 2:g})"
            + (" or fp32 precision" if self.s.precision != "fp32" else "") + ", then resume."
        )

    def _oom_error(self) -> TrainingError:
        cfg = self.s.config
        if self.s.device.type == "cuda":
            torch.cuda.empty_cache()
        return TrainingError(
            f"Out of device memory at batch size {cfg.batch_size} and image size {cfg.image_size}. "
            f"Try batch size {max(1, cfg.batch_size // 2)}"
            + (f" or image size {cfg.image_size // 2}" if cfg.image_size >= 128 else "")
            + ", or batch size 'auto' to let SynthVol find one that fits."
        )
