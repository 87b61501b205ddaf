"""torch.distributed set-up for `torchrun --nproc-per-node N main.py train ...` (DDP): NCCL on
GPUs, gloo on the CPU. Rank 0 alone writes the run folder and sends events."""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

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
