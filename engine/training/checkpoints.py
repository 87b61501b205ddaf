"""Checkpoints: written to a temporary file then renamed (never half-written), each with the sha256
of its contents checked when it is loaded (a damaged file is refused, and the newest intact one
used), loaded with torch.load(weights_only=True) so a checkpoint from elsewhere can never run code."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import random
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.errors import CheckpointError
from engine.models.config import describe_incompatibility

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
LAST = "last.pt"
INTEGRITY = "integrity"  # {"scheme", "sha256"} of everything else in the checkpoint
DIGEST_SCHEME = "sha256-state-v1"
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
    """Write checkpoints/ckpt_<iteration>.pt and checkpoints/last.pt (its own copy, never a link:
    damage to one file must not damage the other), each carrying the sha256 of its contents;
    keep the newest ``keep`` numbered ones. A failed write (a full disk) leaves every earlier
    checkpoint as it was and raises CheckpointError."""
    folder = Path(folder)
    numbered = folder / f"ckpt_{iteration:08d}.pt"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        state = _to_cpu({**state, "format_version": FORMAT_VERSION, "iteration": int(iteration)})
        state[INTEGRITY] = {"scheme": DIGEST_SCHEME, "sha256": state_digest(state)}
        _atomic_save(state, numbered)
        _atomic_copy(numbered, folder / LAST)
        _prune(folder, keep)
    except OSError as exc:
        kept = [p.name for p in checkpoint_candidates(folder) if p.is_file()]
        raise CheckpointError(
            f"Cannot write the checkpoint {numbered} ({exc.strerror or exc}). Free some disk space (or "
            "check the folder's permissions) and resume; "
            + (f"the earlier checkpoints ({', '.join(kept)}) are kept unchanged." if kept else "no checkpoint was kept.")
        ) from None
    return numbered


def _map_tensors(value: Any, fn) -> Any:
    """``value`` with ``fn`` applied to every tensor inside its dicts, lists and tuples."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_tensors(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_map_tensors(v, fn) for v in value)
    return value


def _to_cpu(value: Any) -> Any:
    return _map_tensors(value, lambda t: t.detach().cpu())


def state_digest(state: dict[str, Any]) -> str:
    """sha256 over every value of a checkpoint but its integrity record: keys, tensor dtypes,
    shapes and bytes, and the plain values. Computed at save time and again at load time."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != INTEGRITY})
    return h.hexdigest()


def _feed(h, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        h.update(b"D%d" % len(value))
        for key in sorted(value, key=str):
            h.update(repr(key).encode())
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(b"L%d" % len(value))
        for v in value:
            _feed(h, v)
    else:
        h.update(f"V{type(value).__name__}:{value!r}".encode())


def _atomic_write(path: Path, write) -> None:
    """``write(fh)`` into a temporary file beside ``path``, flushed to disk, then renamed to it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_save(obj: Any, path: Path) -> None:
    _atomic_write(path, lambda fh: torch.save(obj, fh))


def _atomic_copy(src: Path, dst: Path) -> None:
    """A second, independent file with the bytes of ``src`` (never a link to it)."""

    def copy(fh) -> None:
        with open(src, "rb") as inp:
            shutil.copyfileobj(inp, fh, 8 << 20)

    _atomic_write(dst, copy)


def _prune(folder: Path, keep: int) -> None:
    numbered = sorted(p for p in folder.iterdir() if _NUMBERED.match(p.name))
    for old in numbered[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    for stale in folder.glob(".*.tmp"):
        stale.unlink(missing_ok=True)


def latest_checkpoint(folder: Path) -> Path | None:
    folder = Path(folder)
    last = folder / LAST
    if last.is_file():
        return last
    numbered = sorted(p for p in folder.glob("ckpt_*.pt") if _NUMBERED.match(p.name))
    return numbered[-1] if numbered else None


def checkpoint_candidates(folder: Path) -> list[Path]:
    """The run's checkpoints, newest first: the newest numbered one, last.pt (normally the same
    iteration), then the older numbered ones."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    numbered = sorted((p for p in folder.iterdir() if _NUMBERED.match(p.name)), reverse=True)
    last = [folder / LAST] if (folder / LAST).is_file() else []
    return numbered[:1] + last + numbered[1:]


def load_latest_intact(folder: Path, map_location: str | torch.device = "cpu") -> tuple[Path, dict[str, Any], list[str]]:
    """The newest checkpoint that loads and whose checksum holds: (path, state, notes), the notes
    naming each damaged one that was passed over. CheckpointError when none is intact."""
    notes: list[str] = []
    candidates = checkpoint_candidates(folder)
    for path in candidates:
        try:
            state = load_checkpoint(path, map_location)
        except CheckpointError as exc:
            notes.append(str(exc))
            continue
        if notes:
            notes.append(f"Using the newest intact checkpoint instead: {path.name} (iteration {state.get('iteration')}).")
        return path, state, notes
    if not candidates:
        raise CheckpointError(f"{folder}: no checkpoint yet; train the run first.")
    raise CheckpointError(f"{folder}: no intact checkpoint. " + " ".join(notes))


def resume_checkpoint(
    folder: Path, asked: Path | None = None, map_location: str | torch.device = "cpu"
) -> tuple[Path | None, dict[str, Any] | None, list[str]]:
    """What a resume starts from: the checkpoint asked for (CheckpointError when it is damaged:
    the user chose it), else the newest intact one of ``folder`` (notes say which were passed
    over); (None, None, []) when the run has none yet."""
    if asked is not None:
        return Path(asked), load_checkpoint(asked, map_location), []
    if not checkpoint_candidates(folder):
        return None, None, []
    return load_latest_intact(folder, map_location)


def generator_checkpoint(folder: Path, asked: Path | None = None) -> tuple[Path, dict[str, Any], list[str]]:
    """What generation uses: the checkpoint asked for, else the newest intact one (with notes);
    CheckpointError when the run has none."""
    path, state, notes = resume_checkpoint(folder, asked)
    if path is None:
        raise CheckpointError(f"{Path(folder).parent}: no checkpoint yet; train the run first.")
    return path, state, notes


def file_error_text(exc: OSError, folder: Path | None = None) -> str:
    """A clinician's sentence for a failed file operation (full disk, read-only, missing)."""
    where = exc.filename or folder or "a file"
    reason = exc.strerror or str(exc)
    hint = {
        errno.ENOSPC: "The disk is full: free some space and try again.",
        errno.EDQUOT: "The disk quota is used up: free some space and try again.",
        errno.EROFS: "The folder is on a read-only disk: choose another folder.",
        errno.EACCES: "Check its permissions (is the folder read-only?), or use a folder of your own.",
        errno.EPERM: "Check its permissions (is the folder read-only?), or use a folder of your own.",
    }.get(exc.errno, "Check the folder and the disk, then try again.")
    return f"{where}: {reason}. {hint}"


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (weights only) and check its sha256; CheckpointError otherwise."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: a folder, not a checkpoint file.")
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint there.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError:
        raise CheckpointError(f"{path}: the checkpoint may not be read (permission denied).") from None
    except Exception as exc:
        raise CheckpointError(
            f"{path}: the checkpoint cannot be loaded safely ({type(exc).__name__}: {str(exc).splitlines()[0]}). "
            "It may be damaged, or made by another program."
        ) from None
    if not isinstance(state, dict) or "generator" not in state or "model_signature" not in state:
        raise CheckpointError(f"{path}: not a SynthVol checkpoint (no generator weights or model signature).")
    record = state.get(INTEGRITY)
    if isinstance(record, dict) and record.get("scheme") == DIGEST_SCHEME:
        if state_digest(state) != record.get("sha256"):
            raise CheckpointError(
                f"{path}: the checkpoint is damaged (its contents no longer match the sha256 recorded when it "
                "was written: the file was changed on disk)."
            )
    elif record is not None:
        raise CheckpointError(f"{path}: the checkpoint's integrity record is not one SynthVol knows ({record!r:.80}).")
    else:
        log.warning("%s: written before checkpoints carried a checksum; it cannot be checked for damage", path)
    if str(map_location) != "cpu":
        state = _map_tensors(state, lambda t: t.to(map_location))
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
