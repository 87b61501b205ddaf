"""Training on several GPUs from the window: a torchrun process group in a child process, watched
through the run folder (metrics.jsonl, samples/, status.json) and steered through its control file.

It offers the signals of EngineWorker, so the Training panel treats both alike. A crash of the child
never takes the window down: it is reported with the last lines of its log.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal, Slot

from engine.training.config import TrainingConfig
from engine.training.run_control import write_command

REPO = Path(__file__).resolve().parents[2]


@dataclass
class ProcessResult:
    run: Path
    iteration: int
    iterations: int
    stopped: bool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DistributedTrainingWorker(QObject):
    progress = Signal(int, int, str, float, float)
    lossesReady = Signal(list)
    preview = Signal(int, dict, str)
    logMessage = Signal(str, str)
    checkpointSaved = Signal(str, int)
    stateChanged = Signal(str)
    succeeded = Signal(object)
    failed = Signal(str, str)
    done = Signal()

    def __init__(self, config: TrainingConfig, nproc: int, gpus: list[int] | None = None, poll_ms: int = 300) -> None:
        super().__init__()
        self.config = config.resolved()
        self.run = Path(self.config.run)
        self.nproc = int(nproc)
        self.gpus = gpus or []
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._on_output)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self._poll)
        self.tail: deque[str] = deque(maxlen=60)
        self._metrics_offset = 0
        self._seen_samples: set[str] = set()
        self._last_state = ""
        self._t0 = 0.0
        self._first_iteration: int | None = None
        self._last_iteration = 0
        self._finished = False

    # ------------------------------------------------------------------ control
    def command(self) -> list[str]:
        settings = self.run.with_name(f".{self.run.name}.launch.json")
        settings.parent.mkdir(parents=True, exist_ok=True)
        data = self.config.to_json()
        settings.write_text(json.dumps(data, indent=2), encoding="utf-8")
        args = ["-m", "torch.distributed.run", "--nproc-per-node", str(self.nproc), "--master-port", str(free_port()),
                str(REPO / "main.py"), "--", "train", "--config", str(settings), "--run", str(self.run)]
        if self.config.resume:
            args.append("--resume")
        return args

    def start(self) -> None:
        if self.config.resume and (self.run / "metrics.jsonl").is_file():
            self._metrics_offset = (self.run / "metrics.jsonl").stat().st_size
        if (self.run / "samples").is_dir():
            self._seen_samples = {p.name for p in (self.run / "samples").glob("*.png")}
        env = QProcessEnvironment.systemEnvironment()
        if self.gpus:
            env.insert("CUDA_VISIBLE_DEVICES", ",".join(map(str, self.gpus)))
        env.insert("PYTHONUNBUFFERED", "1")
        self.process.setProcessEnvironment(env)
        self.process.setWorkingDirectory(str(REPO))
        self._t0 = time.monotonic()
        self.stateChanged.emit("started")
        self.logMessage.emit("info", f"Starting {self.nproc} training processes (torchrun) for {self.run}")
        self.process.start(sys.executable, self.command())
        self.timer.start()

    def is_running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def _write(self, command: str) -> None:
        self.run.mkdir(parents=True, exist_ok=True)
        write_command(self.run / "control", command)

    def stop(self) -> None:
        self.stateChanged.emit("stopping")
        self._write("stop")

    def pause(self) -> None:
        self._write("pause")

    def resume(self) -> None:
        self._write("run")

    def stop_and_wait(self, timeout_ms: int = 120_000) -> bool:
        if not self.is_running():
            return True
        self._write("stop")
        if not self.process.waitForFinished(timeout_ms):
            self.process.kill()
            return self.process.waitForFinished(5000)
        return True

    # ------------------------------------------------------------------ watching the run folder
    @Slot()
    def _on_output(self) -> None:
        text = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        for line in text.replace("\r", "\n").splitlines():
            line = line.strip()
            if line:
                self.tail.append(line)
                if "error" in line.lower() or "warning" in line.lower():
                    self.logMessage.emit("warning", line)

    @Slot()
    def _poll(self) -> None:
        self._read_metrics()
        self._read_samples()
        self._read_status()

    def _read_metrics(self) -> None:
        path = self.run / "metrics.jsonl"
        if not path.is_file():
            return
        with open(path, encoding="utf-8") as fh:
            fh.seek(self._metrics_offset)
            data = fh.read()
        complete = data[: data.rfind("\n") + 1] if "\n" in data else ""
        self._metrics_offset += len(complete.encode("utf-8"))
        batch = []
        for line in complete.splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            it = int(rec.get("iteration", 0))
            batch.append((it, {k: v for k, v in rec.items() if k.startswith(("loss_", "val_"))}))
            self._last_iteration = it
            if self._first_iteration is None:
                self._first_iteration = it
        if batch:
            self.lossesReady.emit(batch)
            elapsed = time.monotonic() - self._t0
            done = self._last_iteration - (self._first_iteration or 0)
            rate = done / elapsed if elapsed > 0 and done > 0 else -1.0
            eta = (self.config.iterations - self._last_iteration) / rate if rate > 0 else -1.0
            self.progress.emit(self._last_iteration, self.config.iterations, "Training", rate, eta)

    def _read_samples(self) -> None:
        folder = self.run / "samples"
        if not folder.is_dir():
            return
        new = sorted(p for p in folder.glob("iter_*.png") if p.name not in self._seen_samples)
        for p in new:
            self._seen_samples.add(p.name)
        if new:
            latest = new[-1]
            try:
                it = int(latest.stem.split("_")[1])
            except (IndexError, ValueError):
                it = self._last_iteration
            self.preview.emit(it, {}, str(latest))

    def _read_status(self) -> None:
        try:
            status = json.loads((self.run / "status.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return
        state = status.get("state", "")
        if state in ("running", "paused") and state != self._last_state:
            self._last_state = state
            self.stateChanged.emit(state)

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self._finished:
            return
        self._finished = True
        self.timer.stop()
        self._on_output()
        self._poll()
        try:
            st = json.loads((self.run / "status.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            st = {}
        if code == 0 and status == QProcess.ExitStatus.NormalExit and st.get("state") in ("finished", "stopped"):
            stopped = st["state"] == "stopped"
            self.stateChanged.emit("stopped" if stopped else "finished")
            self.succeeded.emit(ProcessResult(self.run, int(st.get("iteration", 0)), int(st.get("iterations", 0)), stopped))
        else:
            errors = [ln for ln in self.tail if ln.startswith("Error") or "Error:" in ln]
            message = errors[-1] if errors else f"The training processes ended with exit code {code}."
            self.stateChanged.emit("failed")
            self.failed.emit(message, "\n".join(self.tail))
        self.done.emit()

    @Slot(QProcess.ProcessError)
    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and not self._finished:
            self._finished = True
            self.timer.stop()
            self.stateChanged.emit("failed")
            self.failed.emit("The training processes could not be started (torchrun).", self.process.errorString())
            self.done.emit()
