"""Devices: list them for the GUI, resolve "auto", and choose precision and memory format."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch

from engine.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceInfo:
    id: str  # "cpu", "cuda:0", "mps"
    name: str
    memory_gb: float | None
    kind: str  # "cpu" | "cuda" | "mps"

    @property
    def label(self) -> str:
        mem = f", {self.memory_gb:.0f} GB" if self.memory_gb else ""
        return f"{self.id}: {self.name}{mem}"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU"


def list_devices() -> list[DeviceInfo]:
    out = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out.append(DeviceInfo(f"cuda:{i}", p.name, p.total_memory / 2**30, "cuda"))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        out.append(DeviceInfo("mps", "Apple GPU (MPS)", None, "mps"))
    cores = cpu_cores()
    out.append(DeviceInfo("cpu", f"{cpu_name()} ({cores} core{'s' if cores != 1 else ''})", None, "cpu"))
    return out


def resolve_device(spec: str) -> torch.device:
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {spec}: no CUDA GPU is available here; use auto or cpu")
        dev = torch.device(spec)
        index = dev.index if dev.index is not None else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device {spec}: only {torch.cuda.device_count()} CUDA device(s) (cuda:0..)")
        return torch.device("cuda", index)
    if spec == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise ConfigError("device mps: Apple's MPS is not available here; use auto or cpu")
        return torch.device("mps")
    raise ConfigError(f"device {spec!r}: use auto, cpu, cuda, cuda:N or mps")


def resolve_precision(requested: str, device: torch.device) -> str:
    """fp32 | bf16 | fp16 for this device."""
    if device.type != "cuda":
        if requested in ("bf16", "fp16"):
            log.info("precision %s requested on %s: using fp32", requested, device)
        return "fp32"
    if requested == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if requested == "bf16" and not torch.cuda.is_bf16_supported():
        return "fp16"
    return requested


def cpu_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's share, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_threads(threads: int | None = None) -> int:
    """How many torch compute threads ``set_cpu_threads(threads)`` uses: ``threads``, else
    $SYNTHVOL_TORCH_THREADS, else every core but one (left for the window and the system)."""
    env = os.environ.get("SYNTHVOL_TORCH_THREADS")
    if threads is None and env:
        threads = int(env)
    if threads is None:
        threads = cpu_cores() - 1
    return max(1, int(threads))


def describe_cpu(threads: int, why: bool = False) -> str:
    """``AMD EPYC 7B13 (2 cores), 1 compute thread``: what a run says of its CPU (``why``: and that
    the other cores are left free on purpose)."""
    cores = cpu_cores()
    spare = " (the other cores left for the window and the system)" if why and threads < cores else ""
    return f"{cpu_name()} ({cores} core{'s' if cores != 1 else ''}), {threads} compute thread{'s' if threads != 1 else ''}{spare}"


def set_cpu_threads(threads: int | None = None) -> int:
    """Torch threads leaving one core free (for the GUI / the OS)."""
    torch.set_num_threads(cpu_threads(threads))
    return torch.get_num_threads()
