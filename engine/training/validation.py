"""Validation on held-out real slices: paired SSIM / PSNR / L1 between the EMA generator's output
(mean style, z = 0, the same seeded noise every time) on whole slices and the real image of the
same label map; and the preview images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from engine.data.slices import SliceDataset
from engine.models.context import centre_label


def pick_validation_items(n_available: int, n_wanted: int) -> list[int]:
    """Evenly spread indices into the validation slices (deterministic)."""
    if n_available <= n_wanted:
        return list(range(n_available))
    return [int(round(i)) for i in np.linspace(0, n_available - 1, n_wanted)]


class Validator:
    def __init__(self, dataset: SliceDataset, items: list[int], device: torch.device, num_classes: int,
                 context_slices: int, batch_size: int = 8) -> None:
        samples = [dataset[i] for i in items]
        self.labels = torch.stack([s["label"] for s in samples])
        self.images = torch.stack([s["image"] for s in samples])
        self.device, self.batch_size = device, batch_size
        self.num_classes, self.context_slices = num_classes, context_slices

    def __len__(self) -> int:
        return len(self.labels)

    @torch.no_grad()
    def generate(self, generator: torch.nn.Module, channels_last: bool = False) -> torch.Tensor:
        generator.eval()
        outs = []
        levels = getattr(generator, "noise_levels", 0)
        seeded = torch.Generator().manual_seed(0)  # the same noise at every validation
        for i in range(0, len(self.labels), self.batch_size):
            lab = self.labels[i : i + self.batch_size].to(self.device)
            if channels_last:
                lab = lab.contiguous(memory_format=torch.channels_last)
            noise = None
            if levels:
                noise = torch.randn((len(lab), levels, *lab.shape[-2:]), generator=seeded).to(self.device)
            outs.append(generator(lab, None, noise).float().cpu())
        return torch.cat(outs) if outs else torch.zeros(0)

    @torch.no_grad()
    def evaluate(self, generator: torch.nn.Module, channels_last: bool = False) -> tuple[dict[str, float], torch.Tensor]:
        fake = self.generate(generator, channels_last).clamp(-1, 1)
        real = self.images
        metrics = {
            "val_ssim": float(structural_similarity_index_measure(fake, real, data_range=2.0)),
            "val_psnr": float(peak_signal_noise_ratio(fake, real, data_range=2.0)),
            "val_l1": float((fake - real).abs().mean()),
        }
        return metrics, fake

    def centre_classes(self) -> np.ndarray:
        hot = centre_label(self.labels, self.num_classes, self.context_slices)
        return hot.argmax(dim=1).numpy().astype(np.uint8)


def preview_arrays(real: torch.Tensor, fake: torch.Tensor, classes: np.ndarray, n: int = 4, max_px: int = 128) -> dict:
    """Small arrays for the Preview event: real/fake in [-1, 1] (float32), centre labels (uint8)."""
    n = min(n, len(real))
    step = max(1, int(np.ceil(real.shape[-1] / max_px)))
    return {
        "real": real[:n, 0, ::step, ::step].numpy().astype(np.float32),
        "fake": fake[:n, 0, ::step, ::step].numpy().astype(np.float32),
        "label": classes[:n, ::step, ::step].copy(),
    }


def save_preview_png(path: Path, images: dict, colors: list[tuple[int, int, int]]) -> Path:
    """A grid: one row per sample, columns label map | real | generated."""
    from PIL import Image

    grid = preview_grid(images, colors)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    Image.fromarray(grid).save(tmp)
    tmp.replace(path)
    return path


def preview_grid(images: dict, colors: list[tuple[int, int, int]]) -> np.ndarray:
    """The preview as one RGB uint8 array (H, W, 3): a row per sample, label map | real | generated."""
    real, fake, label = images["real"], images["fake"], images["label"]
    palette = np.array(colors, dtype=np.uint8)
    rows = []
    for r, f, lab in zip(real, fake, label):
        grey = lambda a: np.repeat((((np.clip(a, -1, 1) + 1) * 127.5).astype(np.uint8))[..., None], 3, axis=2)  # noqa: E731
        lab_rgb = palette[np.clip(lab, 0, len(palette) - 1)]
        sep = np.full((r.shape[0], 2, 3), 40, np.uint8)
        rows.append(np.concatenate([lab_rgb, sep, grey(r), sep, grey(f)], axis=1))
    return np.concatenate([np.concatenate([row, np.full((2, row.shape[1], 3), 40, np.uint8)]) for row in rows])
