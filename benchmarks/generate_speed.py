"""Seconds per synthetic volume: a 256x256x100 label map through a trained generator, slice by
slice with 2.5-D context and one style code, mapped back to the label's grid.

    python benchmarks/generate_speed.py                      # trains a throwaway quick run first
    python benchmarks/generate_speed.py --run RUN --device cuda
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.resources import DEMO_DATASET  # noqa: E402
from engine.synthesis import Synthesizer  # noqa: E402
from engine.training.config import TrainingConfig  # noqa: E402
from engine.training.trainer import train  # noqa: E402


def label_volume(size_xy: int = 256, slices: int = 100) -> sitk.Image:
    """A 256x256x100 label map (brain tissue classes 0-3) made by resampling the demo's label."""
    demo = sitk.ReadImage(str(DEMO_DATASET / "labelsTr" / "icbm152_2009a.nii.gz"))
    size = demo.GetSize()
    spacing = demo.GetSpacing()
    ref = sitk.Image([size_xy, size_xy, slices], sitk.sitkUInt8)
    ref.SetSpacing((size[0] * spacing[0] / size_xy, size[1] * spacing[1] / size_xy, size[2] * spacing[2] / slices))
    ref.SetOrigin(demo.GetOrigin())
    ref.SetDirection(demo.GetDirection())
    return sitk.Resample(demo, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, help="a trained run (default: train a throwaway quick run at 256 px)")
    p.add_argument("--device", default="auto")
    p.add_argument("--volumes", type=int, default=3)
    p.add_argument("--batch", type=int, default=8)
    args = p.parse_args()
    run = args.run
    if run is None:
        tmp = Path(tempfile.mkdtemp(prefix="synthvol-genbench-"))
        run = tmp / "run"
        train(TrainingConfig(data=DEMO_DATASET, run=run, preset="quick", image_size=256, iterations=2,
                             val_every=2, device=args.device, cache_dir=tmp / "cache"))
    synth = Synthesizer(run, device=args.device)
    label = label_volume()
    print(f"label map {label.GetSize()} at {tuple(round(s, 3) for s in label.GetSpacing())} mm; generator "
          f"{synth.model_cfg.arch} base {synth.model_cfg.base_channels}, trained at {synth.model_cfg.image_size} px; "
          f"device {synth.device}; torch threads {torch.get_num_threads()}")
    times = []
    for i in range(args.volumes):
        t0 = time.perf_counter()
        image = synth.synthesize(label, seed=i, batch_size=args.batch)
        if synth.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        assert image.GetSize() == label.GetSize()
    print(f"seconds per 256x256x100 volume: median {np.median(times):.2f} (runs: {', '.join(f'{t:.2f}' for t in times)})")


if __name__ == "__main__":
    main()
