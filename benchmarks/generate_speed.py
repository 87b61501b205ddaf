"""Seconds per synthetic volume: a 256x256x100 label map through a trained generator, slice by
slice with 2.5-D context and one style code, mapped back to the label's grid.

    python benchmarks/generate_speed.py                      # trains a throwaway quick run first
    python benchmarks/generate_speed.py --run RUN --device cuda
    python benchmarks/generate_speed.py --size 512 --slices 60 --native --threads 2   # issue 12's budget
    python benchmarks/generate_speed.py --sources train,augment,rebalance   # new anatomy vs training maps

``--sources`` (issue 16) times whole volumes per label source, measured together in one run on the
real head-CT slabs with a planted lesion (data/real/head_ct_lesion, ``resources/fetch_real_data.py``):
making the label map (none / deformed / rebalanced) plus generating the image from it, and prints
each source's seconds per volume beside the training maps'.
"""

from __future__ import annotations

import argparse
import os
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


def label_volume(size_xy: int = 256, slices: int = 100, spacing_xy: float | None = None) -> sitk.Image:
    """A size x size x slices label map (brain tissue classes 0-3) made by resampling the demo's
    label over its field of view, or with ``spacing_xy`` at that pixel size (the demo in the middle
    of a larger field: the generator then works on size x size slices, nothing is resampled)."""
    demo = sitk.ReadImage(str(DEMO_DATASET / "labelsTr" / "icbm152_2009a.nii.gz"))
    size = demo.GetSize()
    spacing = demo.GetSpacing()
    ref = sitk.Image([size_xy, size_xy, slices], sitk.sitkUInt8)
    if spacing_xy:
        sp = (spacing_xy, spacing_xy, size[2] * spacing[2] / slices)
        centre = np.array(demo.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in size]))
        ref.SetSpacing(sp)
        ref.SetDirection(demo.GetDirection())
        d = np.array(demo.GetDirection()).reshape(3, 3)
        ref.SetOrigin(tuple(centre - d @ (np.array([size_xy - 1, size_xy - 1, slices - 1]) / 2 * np.array(sp))))
        return sitk.Resample(demo, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
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
    p.add_argument("--size", type=int, default=256, help="label map side (pixels)")
    p.add_argument("--slices", type=int, default=100)
    p.add_argument("--native", action="store_true", help="the label map at the run's own pixel size (no resampling)")
    p.add_argument("--threads", type=int, help="CPU threads (default: cores - 1)")
    p.add_argument("--sources", help="compare label sources, e.g. train,augment,rebalance (see above)")
    p.add_argument("--data", type=Path, default=REPO / "data" / "real" / "head_ct_lesion",
                   help="--sources: the dataset (default: the real head-CT slabs with a lesion)")
    p.add_argument("--rare-label", type=int, default=4, help="--sources: the label rebalancing adds")
    args = p.parse_args()
    if args.sources:
        return compare_label_sources(args)
    run = args.run
    if run is None:
        tmp = Path(tempfile.mkdtemp(prefix="synthvol-genbench-"))
        run = tmp / "run"
        train(TrainingConfig(data=DEMO_DATASET, run=run, preset="quick", image_size=256, iterations=2,
                             val_every=2, device=args.device, cache_dir=tmp / "cache"))
    synth = Synthesizer(run, device=args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    label = label_volume(args.size, args.slices, synth.spacing if args.native else None)
    print(f"label map {label.GetSize()} at {tuple(round(s, 3) for s in label.GetSpacing())} mm; generator "
          f"{synth.model_cfg.arch} base {synth.model_cfg.base_channels}, trained at {synth.model_cfg.image_size} px; "
          f"device {synth.device}; torch threads {torch.get_num_threads()}")
    times, cpu = [], []
    for i in range(args.volumes):
        t0, c0 = time.perf_counter(), time.process_time()
        image = synth.synthesize(label, seed=i, batch_size=args.batch)
        if synth.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        assert image.GetSize() == label.GetSize()
    if args.native:
        print(f"generated on the label's own grid ({synth.on_training_grid(label)=}): no resampling")
    print(f"seconds per {args.size}x{args.size}x{args.slices} volume: median {np.median(times):.2f} (runs: {', '.join(f'{t:.2f}' for t in times)})")
    # CPU seconds hardly depend on what else the machine runs: on an idle machine the wall time is
    # about CPU seconds / threads (a busy shared machine stretches the wall time, not these)
    print(f"CPU seconds per volume (all threads): median {np.median(cpu):.2f}; load average {os.getloadavg()[0]:.1f}")



def compare_label_sources(args) -> None:
    """Seconds per volume for each label source: label map + generation, interleaved volume by volume."""
    from engine.synthesis.deform import DeformParams
    from engine.synthesis.label_sources import generate_label_maps, training_label_maps
    from engine.synthesis.rebalance import RebalanceParams

    kinds = [k.strip() for k in args.sources.split(",") if k.strip()]
    run = args.run
    if run is None:
        if not args.data.exists():
            raise SystemExit(f"{args.data} is missing: run python resources/fetch_real_data.py first")
        tmp = Path(tempfile.mkdtemp(prefix="synthvol-genbench-"))
        run = tmp / "run"
        train(TrainingConfig(data=args.data, run=run, preset="quick", image_size=256, iterations=2,
                             val_every=2, device=args.device, cache_dir=tmp / "cache"))
    synth = Synthesizer(run, device=args.device)
    maps = training_label_maps(synth.run)
    rebalance = RebalanceParams(args.rare_label)
    sources = {k: generate_label_maps(k, maps, args.volumes, 0, DeformParams(), rebalance) for k in kinds}
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    for i in range(args.volumes):
        for kind in kinds:
            t0 = time.perf_counter()
            item = next(sources[kind])
            t1 = time.perf_counter()
            synth.synthesize(item.label, seed=i, batch_size=args.batch)
            if synth.device.type == "cuda":
                torch.cuda.synchronize()
            times[kind].append((t1 - t0, time.perf_counter() - t1))
    size = maps[0].label.GetSize()
    print(f"label maps {size} from {args.data.name}; device {synth.device}; torch threads {torch.get_num_threads()}; "
          f"{args.volumes} volumes per source, interleaved")
    base = float(np.median([a + b for a, b in times[kinds[0]]]))
    print(f"{'source':12s} {'label map s':>12s} {'generate s':>11s} {'total s':>9s} {'vs ' + kinds[0]:>10s}")
    for kind in kinds:
        label_s = float(np.median([a for a, _ in times[kind]]))
        gen_s = float(np.median([b for _, b in times[kind]]))
        total = float(np.median([a + b for a, b in times[kind]]))
        print(f"{kind:12s} {label_s:12.2f} {gen_s:11.2f} {total:9.2f} {total / base:9.2f}x")


if __name__ == "__main__":
    main()
