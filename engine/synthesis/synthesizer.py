"""A trained run's EMA generator turned into whole volumes: slice by slice with 2.5-D label context,
one style code per volume, mapped back to HU / MR units on the label map's own grid."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from engine.data.geometry import Geometry
from engine.data.slices import label_context, one_hot
from engine.errors import CheckpointError, DataError
from engine.events import Control
from engine.models.config import ModelConfig
from engine.models.factory import build_generator
from engine.training.checkpoints import check_compatible, file_sha256, latest_checkpoint, load_checkpoint
from engine.training.devices import resolve_device, set_cpu_threads
from engine.training.run_folder import TrainingRun

log = logging.getLogger(__name__)


def fresh_image(arr: np.ndarray, like: sitk.Image | Geometry) -> sitk.Image:
    """A new image from voxels and a geometry only (no metadata carried over from any source)."""
    img = sitk.GetImageFromArray(np.ascontiguousarray(arr))
    if isinstance(like, Geometry):
        return like.apply_to(img)
    img.SetSpacing(like.GetSpacing())
    img.SetOrigin(like.GetOrigin())
    img.SetDirection(like.GetDirection())
    return img


class Synthesizer:
    def __init__(self, run: Path | str, checkpoint: Path | None = None, device: str = "auto") -> None:
        self.run = TrainingRun(Path(run))
        record = self.run.read_config()
        self.model_cfg = ModelConfig(**record["model"])
        self.label_table = self.run.read_label_table()
        self.normalization = self.run.read_normalization()
        self.spacing = float(record["spacing_mm"])
        self.modality = self.normalization.modality
        ckpt = Path(checkpoint) if checkpoint else latest_checkpoint(self.run.checkpoints_dir)
        if ckpt is None:
            raise CheckpointError(f"{self.run.folder}: no checkpoint yet; train the run first.")
        state = load_checkpoint(ckpt)
        check_compatible(state, self.model_cfg.signature(), ckpt, generator_only=True)
        self.device = resolve_device(device)
        if self.device.type == "cpu":
            set_cpu_threads()
        self.generator = build_generator(self.model_cfg)
        try:
            self.generator.load_state_dict(state["generator"])
        except RuntimeError as exc:
            raise CheckpointError(f"{ckpt}: generator weights do not fit ({str(exc).splitlines()[0]}).") from None
        self.generator.to(self.device).eval()
        self.checkpoint = ckpt
        self.checkpoint_iteration = int(state.get("iteration", 0))
        self._sha: str | None = None

    @property
    def checkpoint_sha256(self) -> str:
        if self._sha is None:
            self._sha = file_sha256(self.checkpoint)
        return self._sha

    def style(self, seed: int) -> torch.Tensor | None:
        if self.model_cfg.style_dim == 0:
            return None
        g = torch.Generator().manual_seed(int(seed))
        return torch.randn(1, self.model_cfg.style_dim, generator=g)

    def prepare_label(self, label: sitk.Image) -> tuple[np.ndarray, sitk.Image]:
        """Label map -> (classes (z, y, x) on the training grid, that grid as a reference image)."""
        arr = sitk.GetArrayViewFromImage(label)
        unknown = sorted(set(np.unique(arr).tolist()) - set(self.label_table.values))
        if unknown:
            raise DataError(
                f"The label map holds value(s) {unknown[:8]} that the run was not trained on "
                f"(known: {self.label_table.values})."
            )
        lps = sitk.DICOMOrient(label, "LPS")
        sp = lps.GetSpacing()
        size = lps.GetSize()
        new_size = [max(1, int(round(size[i] * sp[i] / self.spacing))) for i in range(2)] + [size[2]]
        ref = sitk.Image(new_size, sitk.sitkUInt8)
        ref.SetSpacing((self.spacing, self.spacing, sp[2]))
        direction = np.array(lps.GetDirection()).reshape(3, 3)
        shift = np.array([(self.spacing - sp[0]) / 2, (self.spacing - sp[1]) / 2, 0.0])
        ref.SetOrigin(tuple(np.array(lps.GetOrigin()) + direction @ shift))
        ref.SetDirection(lps.GetDirection())
        grid = sitk.Resample(lps, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, lps.GetPixelID())
        classes = self.label_table.to_classes(sitk.GetArrayViewFromImage(grid).astype(np.int64))
        return classes.astype(np.uint8), ref

    @torch.no_grad()
    def synthesize_classes(self, classes: np.ndarray, seed: int, batch_size: int = 8,
                           control: Control | None = None, on_slice: Callable[[int, int], None] | None = None) -> np.ndarray:
        """(z, y, x) classes -> (z, y, x) float32 image in [-1, 1] (one style code for the volume)."""
        k, c = self.model_cfg.context_slices, self.model_cfg.num_classes
        mult = self.model_cfg.size_multiple
        zn, h, w = classes.shape
        ph, pw = (-h) % mult, (-w) % mult
        padded = np.pad(classes, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))
        z = self.style(seed)
        out = np.empty((zn, h, w), dtype=np.float32)
        for start in range(0, zn, batch_size):
            if control is not None:
                control.raise_if_stopped()
                control.wait_while_paused()
            idx = range(start, min(zn, start + batch_size))
            ctx = np.stack([one_hot(label_context(padded, i, k), c) for i in idx])
            x = torch.from_numpy(ctx).to(self.device)
            zz = z.to(self.device).expand(len(idx), -1) if z is not None else None
            y = self.generator(x, zz).float().clamp(-1, 1).cpu().numpy()[:, 0]
            out[start : start + len(idx)] = y[:, ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]
            if on_slice is not None:
                on_slice(idx[-1] + 1, zn)
        return out

    def synthesize(self, label: sitk.Image, seed: int, batch_size: int = 8, control: Control | None = None,
                   on_slice: Callable[[int, int], None] | None = None) -> sitk.Image:
        """A synthetic image (HU for CT, MR units) on the grid of ``label``."""
        classes, ref = self.prepare_label(label)
        norm = self.synthesize_classes(classes, seed, batch_size, control, on_slice)
        low, high = self.normalization.reference
        values = self.normalization.inverse(norm, low, high)
        small = fresh_image(values.astype(np.float32), ref)
        background = float(low)
        image = sitk.Resample(small, label, sitk.Transform(), sitk.sitkLinear, background, sitk.sitkFloat32)
        return fresh_image(sitk.GetArrayFromImage(image), label)
