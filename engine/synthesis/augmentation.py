"""Classic data augmentation of real cases (no GAN), the kind nnU-Net and TorchIO users apply:
affine (rotation, scaling), elastic deformation, left-right flip, gamma, Gaussian noise and a smooth
bias field. One parameter set, two uses:

- :class:`SliceAugmenter` augments 2-D training slices on the fly for the utility study's
  ``real+augmentation`` conditions (MONAI array transforms on tensors: about 12 ms a 128 px slice
  on one CPU thread, against about 55 ms for TorchIO's per-subject path);
- :func:`augment_volume` makes the exported ``augmented-real`` cases (TorchIO in 3-D: its affine
  and elastic transforms resample through SimpleITK with a B-spline transform, so a 512 x 512 x 300
  CT needs no dense displacement grid in memory).

Intensity transforms act on a [0, 1] scale (slices: their [-1, 1] training range; volumes: the
case's 0.5 / 99.5 percentiles), so a bias field multiplies tissue, not the sign of the background,
and padding is black. Both are deterministic for a seed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk
import torch

AUGMENTED_REAL = "augmented real case"  # GalleryItem.meta["image_from"] of an augmented copy
ELASTIC_GRID_PX = 32  # 2-D: control-point spacing of the elastic grid
ELASTIC_MAGNITUDE_2D = 2.0  # 2-D: MONAI offset range per unit of ``elastic`` (about 6 px at most)
ELASTIC_MM_3D = 6.0  # 3-D: largest control-point displacement per unit of ``elastic``


@dataclass(frozen=True)
class AugmentParams:
    p_spatial: float = 0.5  # probability of the affine + elastic warp
    rotation_deg: float = 15.0  # in-plane rotation, +-; out of plane (3-D) a third of it
    scale: float = 0.15  # relative scaling, +-
    elastic: float = 1.0  # elastic strength (0 = affine only)
    p_flip: float = 0.5  # left-right flip
    p_gamma: float = 0.3
    gamma_min: float = 0.7
    gamma_max: float = 1.5
    p_noise: float = 0.2
    noise_std: float = 0.03  # at most, as a fraction of the intensity range
    p_bias: float = 0.3
    bias: float = 0.3  # bias field coefficient range, +-

    def to_json(self) -> dict:
        return asdict(self)


class SliceAugmenter:
    """Augments a batch of slices (B, H, W) in [-1, 1] with their class maps (B, H, W)."""

    def __init__(self, params: AugmentParams = AugmentParams(), seed: int = 0) -> None:
        from monai.transforms import (
            Compose,
            Rand2DElasticd,
            RandAdjustContrastd,
            RandBiasFieldd,
            RandFlipd,
            RandGaussianNoised,
        )

        p = params
        self.params = params
        self.transform = Compose(
            [
                Rand2DElasticd(
                    keys=("image", "label"),
                    spacing=(ELASTIC_GRID_PX, ELASTIC_GRID_PX),
                    magnitude_range=(0.0, ELASTIC_MAGNITUDE_2D * p.elastic),
                    prob=p.p_spatial,
                    rotate_range=(math.radians(p.rotation_deg),),
                    scale_range=(p.scale, p.scale),
                    mode=("bilinear", "nearest"),
                    padding_mode="zeros",
                ),
                RandFlipd(keys=("image", "label"), prob=p.p_flip, spatial_axis=1),
                RandAdjustContrastd(keys="image", prob=p.p_gamma, gamma=(p.gamma_min, p.gamma_max)),
                RandGaussianNoised(keys="image", prob=p.p_noise, std=p.noise_std, sample_std=True),
                RandBiasFieldd(keys="image", prob=p.p_bias, coeff_range=(0.0, p.bias)),
            ]
        )
        self.transform.set_random_state(seed)

    def __call__(self, images: torch.Tensor, classes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``images`` (B, 1, H, W) float in [-1, 1], ``classes`` (B, H, W) int64 -> the same, augmented."""
        out_img, out_lab = [], []
        for x, y in zip(images, classes):
            d = self.transform({"image": (x.float() + 1.0) * 0.5, "label": y[None].float()})
            out_img.append(_plain(d["image"]).float().clamp(0.0, 1.0) * 2.0 - 1.0)
            out_lab.append(_plain(d["label"])[0].round().long())
        return torch.stack(out_img), torch.stack(out_lab)


def _plain(t) -> torch.Tensor:
    """A plain tensor (MONAI returns MetaTensors, which carry metadata through every operation)."""
    return t.as_tensor() if hasattr(t, "as_tensor") else torch.as_tensor(t)


def _volume_transform(params: AugmentParams):
    import torchio as tio

    p = params
    r = p.rotation_deg
    return tio.Compose(
        [
            tio.Compose(
                [
                    tio.RandomAffine(scales=p.scale, degrees=(r / 3, r / 3, r), default_pad_value="minimum"),
                    tio.RandomElasticDeformation(
                        num_control_points=7, max_displacement=max(1e-3, ELASTIC_MM_3D * p.elastic)
                    ),
                ],
                p=p.p_spatial,
            ),
            tio.RandomFlip(axes=("LR",), flip_probability=p.p_flip),
            tio.RandomGamma(log_gamma=(math.log(p.gamma_min), math.log(p.gamma_max)), p=p.p_gamma),
            tio.RandomNoise(std=(0.0, p.noise_std), p=p.p_noise),
            tio.RandomBiasField(coefficients=p.bias, p=p.p_bias),
        ]
    )


def augment_volume(
    image: sitk.Image, label: sitk.Image, params: AugmentParams = AugmentParams(), seed: int = 0
) -> tuple[sitk.Image, sitk.Image]:
    """An augmented copy of a real case (image in its own units, float32; label with the same
    values, on the image's grid). Deterministic for a seed."""
    import torchio as tio

    arr = sitk.GetArrayViewFromImage(image)
    lo, hi = (float(v) for v in np.percentile(arr, [0.5, 99.5]))
    if hi <= lo:
        hi = lo + 1.0
    unit = sitk.ShiftScale(sitk.Cast(image, sitk.sitkFloat32), -lo, 1.0 / (hi - lo))
    subject = tio.Subject(
        image=tio.ScalarImage.from_sitk(unit), label=tio.LabelMap.from_sitk(sitk.Cast(label, sitk.sitkInt32))
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = _volume_transform(params)(subject)
    new_image = sitk.Cast(sitk.ShiftScale(out["image"].as_sitk(), lo / (hi - lo), hi - lo), sitk.sitkFloat32)
    new_label = sitk.Cast(out["label"].as_sitk(), label.GetPixelID())
    new_image.CopyInformation(image)
    new_label.CopyInformation(image)
    return new_image, new_label


def augmented_real_items(maps: list, count: int, seed: int, params: AugmentParams = AugmentParams()):
    """``count`` augmented copies of the real training cases (the ``augmented-real`` label source),
    cycling over ``maps`` (SourceMaps of engine/synthesis/label_sources.py); each item carries its
    image in ``extras["image"]``. Deterministic for a seed."""
    from engine.data.loading import load_image
    from engine.errors import ConfigError
    from engine.synthesis.label_sources import LabelMapItem

    for i in range(count):
        src = maps[i % len(maps)]
        if src.case is None:
            raise ConfigError(
                "augmented-real: needs the run's real training cases (not a folder of label maps)."
            )
        real = load_image(src.case)
        # the label may cover part of the image (a partial label): take the image on the label's grid
        image = sitk.Resample(
            real,
            src.label,
            sitk.Transform(),
            sitk.sitkLinear,
            float(np.min(sitk.GetArrayViewFromImage(real))),
            sitk.sitkFloat32,
        )
        item_seed = int(np.random.default_rng([seed, i, 41]).integers(0, 2**31 - 1))
        new_image, new_label = augment_volume(image, src.label, params, item_seed)
        info = {
            "kind": "augmented-real",
            "source_case": src.case_id,
            "params": params.to_json(),
            "seed": item_seed,
        }
        yield LabelMapItem(new_label, info, src.case_id, src.image_path, extras={"image": new_image})
