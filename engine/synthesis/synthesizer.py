"""A trained run's EMA generator turned into whole volumes: slice by slice with 2.5-D label context,
one style code per volume, mapped back to HU / MR units on the label map's own grid.

The generator runs fully convolutionally over whole slices at the run's training spacing (the
data's own spacing unless the preset coarsened it): a label map already at that spacing is used
as it is and the image comes out on its own grid with no resampling at all. Slices larger than
``MAX_WHOLE_PIXELS`` are generated in overlapping tiles (MONAI's sliding window, Gaussian
blending) whose origins are multiples of the generator's size multiple, so every tile sees the
same noise as the whole slice would. Each slice draws its own noise from (seed, slice index):
one volume is reproducible, and neighbouring slices get independent noise as a scanner's do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from engine.data.geometry import fresh_image
from engine.data.slices import label_context, one_hot
from engine.errors import CheckpointError, DataError
from engine.events import Control
from engine.models.config import ModelConfig
from engine.models.factory import build_generator
from engine.training.checkpoints import check_compatible, file_sha256, generator_checkpoint
from engine.training.devices import resolve_device, set_cpu_threads
from engine.training.run_folder import TrainingRun
from engine.training.run_record import read_run_record

log = logging.getLogger(__name__)
MAX_WHOLE_PIXELS = 1024 * 1024  # larger slices go through tiles
TILE = 512
# On a CPU a batch of slices takes ~0.2 s per 256 x 256 slice (quick preset, 2 cores): at most this
# many pixels per batch keeps each batch, and so the wait for Cancel, under about half a second;
# fixed by the slice size, never by timing, so a seed still gives the same volume.
CPU_BATCH_PIXELS = 2 * 256 * 256


class Synthesizer:
    def __init__(self, run: Path | str, checkpoint: Path | None = None, device: str = "auto") -> None:
        self.run = TrainingRun(Path(run))
        record = read_run_record(self.run)  # config.json checked before anything is sized by it
        self.model_cfg = ModelConfig(**record["model"])
        self.label_table = self.run.read_label_table()
        self.normalization = self.run.read_normalization()
        self.spacing = float(record["spacing_mm"])
        self.modality = self.normalization.modality
        # the checkpoint asked for, else the newest intact one (the notes say which were damaged)
        ckpt, state, self.checkpoint_notes = generator_checkpoint(self.run.checkpoints_dir, checkpoint)
        check_compatible(state, self.model_cfg.signature(), ckpt, generator_only=True)
        self.device = resolve_device(device)
        if self.device.type == "cpu":
            set_cpu_threads()
        self.generator = build_generator(self.model_cfg)
        try:
            self.generator.load_state_dict(state["generator"])
        except RuntimeError as exc:
            raise CheckpointError(f"{ckpt}: generator weights do not fit ({str(exc).splitlines()[0]}).") from None
        # channels_last: faster convolutions on CPUs (oneDNN) and GPUs alike
        self.generator.to(self.device, memory_format=torch.channels_last).eval()
        self.noise_levels = getattr(self.generator, "noise_levels", 0)
        self.tile: int | None = None  # force tiles of this side (multiple of the size multiple)
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

    def slice_noise(self, seed: int, index: int, height: int, width: int) -> torch.Tensor | None:
        """The noise (1, levels, H, W) of slice ``index`` of the volume drawn with ``seed``."""
        if not self.noise_levels:
            return None
        state = np.random.SeedSequence([int(seed) & 0x7FFFFFFF, int(index), 17]).generate_state(2)
        g = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
        return torch.randn((1, self.noise_levels, height, width), generator=g)

    def on_training_grid(self, label: sitk.Image) -> bool:
        """Whether ``label``'s in-plane spacing is the run's (then no resampling at all)."""
        lps_spacing = sitk.DICOMOrient(label, "LPS").GetSpacing() if label.GetDimension() == 3 else label.GetSpacing()
        return all(abs(lps_spacing[i] - self.spacing) <= 1e-3 * self.spacing for i in range(2))

    def prepare_label(self, label: sitk.Image) -> tuple[np.ndarray, sitk.Image]:
        """Label map -> (classes (z, y, x) on the training grid, that grid as a reference image).
        At the run's spacing the grid is the label's own (oriented LPS); otherwise nearest-neighbour
        resampled to the run's spacing."""
        arr = sitk.GetArrayViewFromImage(label)
        unknown = sorted(set(np.unique(arr).tolist()) - set(self.label_table.values))
        if unknown:
            raise DataError(
                f"The label map holds value(s) {unknown[:8]} that the run was not trained on "
                f"(known: {self.label_table.values})."
            )
        lps = sitk.DICOMOrient(label, "LPS")
        sp = lps.GetSpacing()
        if self.on_training_grid(label):
            grid = lps
            ref = sitk.Image(lps.GetSize(), sitk.sitkUInt8)
            ref.CopyInformation(lps)
        else:
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

    def forward_slices(self, ctx: torch.Tensor, z: torch.Tensor | None, noise: torch.Tensor | None) -> torch.Tensor:
        """(B, C', H, W) contexts -> (B, 1, H, W): whole, or in blended tiles when large."""
        h, w = ctx.shape[-2:]
        tile = self.tile or (TILE if h * w > MAX_WHOLE_PIXELS else None)
        return run_generator(self.generator, ctx, z, noise, self.model_cfg.size_multiple, tile, self.device)

    def batch_for(self, pixels: int, requested: int) -> int:
        """The slices per batch: ``requested``, on a CPU no more than CPU_BATCH_PIXELS allows."""
        if self.device.type != "cpu":
            return max(1, int(requested))
        return max(1, min(int(requested), CPU_BATCH_PIXELS // max(1, int(pixels))))

    @torch.no_grad()
    def synthesize_classes(self, classes: np.ndarray, seed: int, batch_size: int = 8,
                           control: Control | None = None, on_slice: Callable[[int, int], None] | None = None) -> np.ndarray:
        """(z, y, x) classes -> (z, y, x) float32 image in [-1, 1] (one style code for the volume,
        new noise for every slice)."""
        k, c = self.model_cfg.context_slices, self.model_cfg.num_classes
        mult = self.model_cfg.size_multiple
        zn, h, w = classes.shape
        batch_size = self.batch_for(h * w, batch_size)
        ph, pw = (-h) % mult, (-w) % mult
        padded = np.pad(classes, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))
        hp, wp = padded.shape[1:]
        z = self.style(seed)
        z = None if z is None else z.to(self.device)
        out = np.empty((zn, h, w), dtype=np.float32)
        for start in range(0, zn, batch_size):
            if control is not None:
                control.raise_if_stopped()
                control.wait_while_paused()
            idx = range(start, min(zn, start + batch_size))
            ctx = torch.from_numpy(np.stack([one_hot(label_context(padded, i, k), c) for i in idx])).to(self.device)
            noise = None
            if self.noise_levels:
                noise = torch.cat([self.slice_noise(seed, i, hp, wp) for i in idx]).to(self.device)
            y = self.forward_slices(ctx, z, noise).float().clamp(-1, 1).cpu().numpy()[:, 0]
            out[start : start + len(idx)] = y[:, ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]
            if on_slice is not None:
                on_slice(idx[-1] + 1, zn)
        return out

    def synthesize(self, label: sitk.Image, seed: int, batch_size: int = 8, control: Control | None = None,
                   on_slice: Callable[[int, int], None] | None = None) -> sitk.Image:
        """A synthetic image (HU for CT, MR units) on the grid of ``label``."""
        classes, ref = self.prepare_label(label)
        norm = self.synthesize_classes(classes, seed, batch_size, control, on_slice)
        values = self.normalization.inverse(norm)
        small = fresh_image(values, ref)
        if self.on_training_grid(label) and _same_grid(ref, label):
            return fresh_image(sitk.GetArrayFromImage(small), label)
        if self.on_training_grid(label):  # the same voxels, only the axes permuted/flipped back
            image = sitk.Resample(small, label, sitk.Transform(), sitk.sitkNearestNeighbor, 0.0, sitk.sitkFloat32)
        else:  # a coarser training grid: linear interpolation back onto the label's grid
            background = float(self.normalization.value_range[0])
            image = sitk.Resample(small, label, sitk.Transform(), sitk.sitkLinear, background, sitk.sitkFloat32)
        return fresh_image(sitk.GetArrayFromImage(image), label)


def _same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    return (a.GetSize() == b.GetSize() and np.allclose(a.GetSpacing(), b.GetSpacing())
            and np.allclose(a.GetOrigin(), b.GetOrigin()) and np.allclose(a.GetDirection(), b.GetDirection()))


def run_generator(generator: torch.nn.Module, ctx: torch.Tensor, z: torch.Tensor | None, noise: torch.Tensor | None,
                  multiple: int, tile: int | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """The generator on whole slices ``ctx`` (B, C', H, W), or with ``tile`` in overlapping tiles of
    that side (MONAI's sliding window, a quarter overlap, Gaussian blending). Tile origins are
    multiples of ``multiple`` (H and W must be), so each tile's down-sampling grid and noise are
    those of the whole slice."""
    zz = None if z is None else z.expand(len(ctx), -1)
    h, w = ctx.shape[-2:]
    if tile is None or (h <= tile and w <= tile):
        return generator(ctx.contiguous(memory_format=torch.channels_last), zz, noise)
    from monai.inferers import sliding_window_inference

    tile = max(multiple, tile // multiple * multiple)
    step = max(multiple, (tile * 3 // 4) // multiple * multiple)
    c = ctx.shape[1]
    joined = torch.cat([ctx, noise], dim=1) if noise is not None else ctx

    def predict(window: torch.Tensor) -> torch.Tensor:
        part_z = None if z is None else z.expand(len(window), -1)
        part = window[:, :c].contiguous(memory_format=torch.channels_last)
        return generator(part, part_z, window[:, c:] if noise is not None else None)

    return sliding_window_inference(joined, (min(tile, h), min(tile, w)), 1, predict, overlap=1.0 - step / tile,
                                    mode="gaussian", sw_device=device, device=device)
