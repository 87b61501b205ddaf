"""Several processes training one run with DDP: the torch.distributed set-up inside each trainer
(`torchrun --nproc-per-node N main.py train ...`: NCCL on GPUs, gloo on the CPU; rank 0 alone writes
the run folder and sends events), and ``train_distributed``, which launches torchrun from another
process (the window) and follows the run through its folder, in the engine contract."""

from __future__ import annotations

import datetime
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from engine.errors import TrainingError
from engine.events import Control, EventCallback, Losses, Preview, StateChanged, TaskState, ignore_events
from engine.training.config import TrainingConfig
from engine.training.run_control import write_command
from engine.training.run_folder import TrainingRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> DistContext:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        return cls(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))

    def init(self, device_type: str) -> None:
        if not self.enabled or dist.is_initialized():
            return
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=10))
        log.info("rank %d/%d joined the process group (%s)", self.rank, self.world_size, backend)

    def device(self, requested: str) -> str:
        """Each rank takes its own GPU (LOCAL_RANK) when CUDA is used."""
        if self.enabled and torch.cuda.is_available() and requested in ("auto", "cuda"):
            return f"cuda:{self.local_rank}"
        return requested

    def barrier(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.barrier()

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's decision (stop/pause) reaches every rank, so all stop at the same iteration."""
        if not (self.enabled and dist.is_initialized()):
            return flag
        t = torch.tensor([1 if flag else 0], dtype=torch.int32)
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.broadcast(t, src=0)
        return bool(t.item())

    def all_ranks_any(self, flag: bool) -> bool:
        if not (self.enabled and dist.is_initialized()):
            return flag
        t = torch.tensor([1 if flag else 0], dtype=torch.int32)
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def gather_ints(self, value: int) -> list[int]:
        """Every rank's value, on every rank (e.g. how many iterations each rank stepped)."""
        if not (self.enabled and dist.is_initialized()):
            return [int(value)]
        t = torch.tensor([int(value)], dtype=torch.int64)
        if dist.get_backend() == "nccl":
            t = t.cuda()
        out = [torch.zeros_like(t) for _ in range(self.world_size)]
        dist.all_gather(out, t)
        return [int(x.item()) for x in out]

    def shutdown(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


# ---- launching and following a DDP run from another process (the window) ---------------------
REPO = Path(__file__).resolve().parents[2]  # where `python -m engine.cli` finds this engine
OUTPUT_LINES = 60  # the last lines of the processes' output kept for an error report


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_command(config: TrainingConfig, nproc: int, settings: Path, port: int) -> list[str]:
    """``python -m torch.distributed.run ... -m engine.cli -- train --config SETTINGS --run-dir RUN``."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(int(nproc)),
           "--master-port", str(port), "-m", "engine.cli", "--", "train", "--config", str(settings),
           "--run-dir", str(config.run)]
    return cmd + (["--resume"] if config.resume else [])


def train_distributed(
    config: TrainingConfig,
    nproc: int,
    gpus: list[int] | None = None,
    on_event: EventCallback = ignore_events,
    control: Control | None = None,
    poll_s: float = 0.3,
    stop_timeout_s: float = 120.0,
):
    """Train with DDP in ``nproc`` torchrun processes (on ``gpus``, or CPU processes) and follow
    the run through its folder, in the engine contract: Losses from metrics.jsonl, Preview from
    new samples, StateChanged from status.json, Progress with rate and ETA; the Control's stop and
    pause reach the trainers through the run's control file. Returns the TrainingResult; a failed
    run raises TrainingError with the processes' last error line (``details``: their last output)."""
    from engine.training.trainer import TrainingResult

    cfg = config.resolved()
    run = TrainingRun(cfg.run)
    state = TaskState(on_event, control, cfg.iterations)
    follower = _RunFollower(run, state, cfg.resume)
    run.folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with run.work_folder("launch") as launch:
        settings = launch / "settings.json"
        settings.write_text(json.dumps(cfg.to_json(), indent=2), encoding="utf-8")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(
            [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
        state.log("info", f"Starting {nproc} training processes (torchrun) for {run.folder}")
        try:
            proc = subprocess.Popen(torchrun_command(cfg, nproc, settings, free_port()), cwd=REPO, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    encoding="utf-8", errors="replace", bufsize=1)
        except OSError as exc:
            raise TrainingError(f"The training processes could not be started (torchrun): {exc}.") from None
        output = _OutputTail(proc)
        try:
            code = follower.follow(proc, output, poll_s, stop_timeout_s)
        finally:
            if proc.poll() is None:  # an error in this loop: never leave trainers behind
                proc.kill()
                proc.wait(10)
            output.join()
    for line in output.drain():
        follower.forward_line(line)
    status = run.read_status()
    if code == 0 and status.get("state") in ("finished", "stopped"):
        return TrainingResult(run.folder, int(status.get("iteration", follower.iteration)), cfg.iterations,
                              status["state"] == "stopped", run.latest_checkpoint(),
                              time.perf_counter() - started, follower.metrics)
    errors = [ln for ln in output.tail if ln.startswith("Error") or "Error:" in ln]
    error = TrainingError(errors[-1].removeprefix("Error: ") if errors
                          else f"The training processes ended with exit code {code}.")
    error.details = "\n".join(output.tail)
    raise error


class _OutputTail:
    """Reads the processes' merged output in a thread; the follower drains it."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.tail: deque[str] = deque(maxlen=OUTPUT_LINES)
        self._new: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._read, args=(proc,), name="torchrun-output", daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for raw in proc.stdout:
            for line in raw.replace("\r", "\n").splitlines():
                if line.strip():
                    self.tail.append(line.strip())
                    self._new.put(line.strip())

    def drain(self) -> list[str]:
        out = []
        while not self._new.empty():
            out.append(self._new.get())
        return out

    def join(self) -> None:
        self._thread.join(timeout=10)


class _RunFollower:
    """Turns what the trainers write into the run folder into engine events."""

    def __init__(self, run: TrainingRun, state: TaskState, resume: bool) -> None:
        self.run, self.state = run, state
        self.offset = run.metrics_size() if resume else 0
        self.seen = {p.name for p in run.sample_images()}
        self.last_state = ""
        self.iteration = 0
        self.metrics: dict[str, float] = {}
        self._sent = {"stop": False, "pause": False}
        self._clock_started = False

    def follow(self, proc: subprocess.Popen, output: _OutputTail, poll_s: float, stop_timeout_s: float) -> int:
        stop_sent_at: float | None = None
        while proc.poll() is None:
            time.sleep(poll_s)
            self._steer()
            if self._sent["stop"] and stop_sent_at is None:
                stop_sent_at = time.monotonic()
            if stop_sent_at is not None and time.monotonic() - stop_sent_at > stop_timeout_s:
                self.state.log("warning", "The training processes did not stop in time; ending them.")
                proc.kill()
            for line in output.drain():
                self.forward_line(line)
            self.poll_run()
        self.poll_run()
        return proc.wait()

    def _steer(self) -> None:
        control = self.state.control
        if control.stop_requested and not self._sent["stop"]:
            write_command(self.run.control_path, "stop")
            self._sent["stop"] = True
        elif not self._sent["stop"] and control.paused != self._sent["pause"]:
            write_command(self.run.control_path, "pause" if control.paused else "run")
            self._sent["pause"] = control.paused

    def forward_line(self, line: str) -> None:
        if "error" in line.lower() or "warning" in line.lower():
            self.state.log("warning", line)

    def poll_run(self) -> None:
        records, self.offset = self.run.tail_metrics(self.offset)
        if records and not self._clock_started:  # rate and ETA from the first step seen (a resume)
            self._clock_started = True
            self.state.restart(self.state.total, int(records[0].get("iteration", 0)))
        for rec in records:
            self.iteration = int(rec.get("iteration", self.iteration))
            values = {k: float(v) for k, v in rec.items() if k.startswith(("loss_", "val_"))}
            self.metrics.update(values)
            self.state.on_event(Losses(self.iteration, values))
        if records:
            self.state.progress(self.iteration, "Training")
        new = sorted(p for p in self.run.sample_images() if p.name not in self.seen)
        self.seen.update(p.name for p in new)
        if new:
            it = self.run.sample_iteration(new[-1])
            self.state.on_event(Preview(self.iteration if it is None else it, {}, str(new[-1])))
        status = self.run.read_status().get("state", "")
        if status in ("running", "paused") and status != self.last_state:
            self.last_state = status
            self.state.on_event(StateChanged(status))
