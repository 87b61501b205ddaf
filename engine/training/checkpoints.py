"""Checkpoints: written to a temporary file then renamed (never half-written), loaded with
torch.load(weights_only=True) so a checkpoint from elsewhere can never run code."""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.errors import CheckpointError
from engine.models.config import describe_incompatibility

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
_NUMBERED = re.compile(r"^ckpt_(\d+)\.pt$")


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": _numpy_state_to_tensors(np.random.get_state()),
        "python": _python_state_to_tensor(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "numpy" in state:
        np.random.set_state(_numpy_state_from_tensors(state["numpy"]))
    if "python" in state:
        random.setstate(_python_state_from_tensor(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state["cuda"])
        except RuntimeError as exc:  # a different number of GPUs now
            log.info("CUDA RNG state not restored (%s)", exc)


# numpy / python RNG states as plain tensors and lists, so weights_only loading accepts them
def _numpy_state_to_tensors(st) -> dict[str, Any]:
    return {"keys": torch.from_numpy(np.asarray(st[1], dtype=np.int64)), "pos": int(st[2]),
            "has_gauss": int(st[3]), "gauss": float(st[4])}


def _numpy_state_from_tensors(d) -> tuple:
    return ("MT19937", d["keys"].numpy().astype(np.uint32), int(d["pos"]), int(d["has_gauss"]), float(d["gauss"]))


def _python_state_to_tensor(st) -> dict[str, Any]:
    return {"version": int(st[0]), "state": torch.tensor(st[1], dtype=torch.int64),
            "gauss": float(st[2]) if st[2] is not None else None}


def _python_state_from_tensor(d) -> tuple:
    return (int(d["version"]), tuple(int(v) for v in d["state"].tolist()), d["gauss"])


def save_checkpoint(state: dict[str, Any], folder: Path, iteration: int, keep: int = 3) -> Path:
    """Write checkpoints/ckpt_<iteration>.pt and checkpoints/last.pt atomically; keep the newest
    ``keep`` numbered ones."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {**state, "format_version": FORMAT_VERSION, "iteration": int(iteration)}
    numbered = folder / f"ckpt_{iteration:08d}.pt"
    _atomic_save(state, numbered)
    last = folder / "last.pt"
    tmp = folder / f".last.{os.getpid()}.tmp"
    try:
        if tmp.exists():
            tmp.unlink()
        os.link(numbered, tmp)  # same bytes, no second write
    except OSError:
        _atomic_save(state, last)
    else:
        os.replace(tmp, last)
    _prune(folder, keep)
    return numbered


def _atomic_save(obj: Any, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _prune(folder: Path, keep: int) -> None:
    numbered = sorted(p for p in folder.iterdir() if _NUMBERED.match(p.name))
    for old in numbered[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    for stale in folder.glob(".*.tmp"):
        stale.unlink(missing_ok=True)


def latest_checkpoint(folder: Path) -> Path | None:
    folder = Path(folder)
    last = folder / "last.pt"
    if last.is_file():
        return last
    numbered = sorted(p for p in folder.glob("ckpt_*.pt") if _NUMBERED.match(p.name))
    return numbered[-1] if numbered else None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint there.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path}: the checkpoint cannot be loaded safely ({type(exc).__name__}: {str(exc).splitlines()[0]}). "
            "It may be damaged, or made by another program."
        ) from None
    if not isinstance(state, dict) or "generator" not in state or "model_signature" not in state:
        raise CheckpointError(f"{path}: not a SynthVol checkpoint (no generator weights or model signature).")
    return state


def check_compatible(state: dict[str, Any], signature: dict[str, Any], path: Path, generator_only: bool = False) -> None:
    problems = describe_incompatibility(state["model_signature"], signature, generator_only=generator_only)
    if problems:
        raise CheckpointError(
            f"{path}: this checkpoint does not fit the model of this run: " + "; ".join(problems) + "."
        )


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
