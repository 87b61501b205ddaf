"""Training samples per second from the preprocessing cache, and the memory it takes.

Writes N CT-like volumes (default 8 of 512x512x200 int16, ~0.8 GB of voxels; --cases 24 for ~2.4 GB)
with label maps as NIfTI, then in a fresh process: discover() (reads every voxel), prepare_cases()
at image size 256 (builds the .npy cache), and draws class-balanced 2.5-D samples with
SliceDataset + SliceSampler, in the main process and through a DataLoader with 2 workers.

    python benchmarks/sampler_speed.py [--cases 8] [--size 512] [--slices 200] [--image-size 256]
                                       [--batch 16] [--iterations 100] [--keep DIR]

Targets (issue 2): peak memory under 1 GB on a dataset larger than that; the sampler 10x faster
than a training step needs. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402


def write_dataset(root: Path, cases: int, size: int, slices: int) -> None:
    import nibabel as nib

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    body = ((yy - c) / (0.42 * size)) ** 2 + ((xx - c) / (0.36 * size)) ** 2 < 1
    organ = ((yy - c * 0.8) / (0.12 * size)) ** 2 + ((xx - c * 1.2) / (0.1 * size)) ** 2 < 1
    lesion = ((yy - c * 0.8) / (0.02 * size)) ** 2 + ((xx - c * 1.2) / (0.02 * size)) ** 2 < 1
    affine = np.diag([-0.7, -0.7, 1.5, 1.0])  # RAS affine of an LPS-axial CT
    rng = np.random.default_rng(0)
    for i in range(cases):
        image = np.empty((size, size, slices), np.int16)  # nibabel order (x, y, z)
        label = np.zeros((size, size, slices), np.uint8)
        for z in range(slices):
            s = np.where(body, 40, -1000).astype(np.int16)
            in_organ = slices // 4 < z < 3 * slices // 4
            if in_organ:
                s[organ] = 120
            if abs(z - slices // 2) < 3:
                s[lesion] = 60
            s += rng.integers(-20, 20, size=s.shape, dtype=np.int16)
            image[:, :, z] = s.T
            lab = body.astype(np.uint8) + (organ & in_organ) + (lesion & (abs(z - slices // 2) < 3))
            label[:, :, z] = lab.T
        nib.save(nib.Nifti1Image(image, affine), str(root / f"case_{i:03d}.nii"))
        nib.save(nib.Nifti1Image(label, affine), str(root / f"case_{i:03d}_seg.nii"))
        print(f"  wrote case {i + 1}/{cases}", file=sys.stderr)


def _status() -> dict[str, float]:
    """VmHWM (peak RSS of this process, not inherited through exec), VmRSS and RssAnon in MB."""
    path = Path("/proc/self/status")
    if not path.exists():  # not Linux: ru_maxrss (which may include the parent's peak)
        return {"VmHWM": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "RssAnon": float("nan")}
    fields = dict(line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmHWM", "VmRSS", "RssAnon") if k in fields}


def reset_peak() -> None:
    """Start a new peak-RSS measurement (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def memory() -> str:
    s = _status()
    anon = s.get("RssAnon", float("nan"))
    return f"peak RSS {s['VmHWM']:5.0f} MB (RSS now {s.get('VmRSS', float('nan')):5.0f} MB, of it anonymous {anon:4.0f} MB)"


class MemoryProbe:
    """Wraps the dataset; each DataLoader worker writes its own peak RSS to a file now and then."""

    def __init__(self, dataset, folder: Path) -> None:
        self.dataset, self.folder, self.calls = dataset, folder, 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item):
        if self.calls == 0:
            reset_peak()  # a forked worker starts with its parent's peak
        self.calls += 1
        out = self.dataset[item]
        if self.calls % 16 == 0:
            s = _status()
            (self.folder / f"worker_{os.getpid()}.txt").write_text(f"{s['VmHWM']} {s.get('RssAnon', 0)}")
        return out


def worker_peaks(folder: Path) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in f.read_text().split()) for f in sorted(folder.glob("worker_*.txt"))]


def draw(loader, iterations: int, batch: int) -> float:
    t0 = time.perf_counter()
    n = 0
    for item in loader:
        n += item["image"].shape[0]
    return n / (time.perf_counter() - t0)


def measure(root: Path, cache: Path, image_size: int, batch: int, iterations: int) -> None:
    import torch
    from torch.utils.data import DataLoader

    from engine.data import discover
    from engine.data.cache import PreprocessParams, prepare_cases
    from engine.data.slices import IterationBatches, SliceDataset, SliceSampler, sampling_weights, slice_table

    torch.set_num_threads(1)
    print(f"after imports (torch, SimpleITK, numpy): {memory()}")
    reset_peak()
    t0 = time.perf_counter()
    result = discover(root)
    seconds = time.perf_counter() - t0
    print(f"discover: {len(result.usable_cases)} cases, all voxels checked, {seconds:5.1f} s; {memory()}")
    shutil.rmtree(cache, ignore_errors=True)
    for attempt in ("build", "reuse"):
        reset_peak()
        t0 = time.perf_counter()
        params = PreprocessParams(image_size=image_size)
        prep = prepare_cases(result.cases, result.label_table, params, cache_dir=cache)
        print(f"prepare_cases ({attempt} the cache): {time.perf_counter() - t0:5.1f} s; {memory()}")
    cache_mb = sum(f.stat().st_size for f in cache.rglob("*.npy")) / 2**20
    shape = prep.volumes[0].shape
    print(f"cache: {cache_mb:.0f} MB of .npy; volumes {shape} (z, y, x) at {prep.spacing} mm in-plane")
    slices = slice_table(prep.volumes, {v.case_id: np.arange(v.shape[0]) for v in prep.volumes})
    sampler = SliceSampler(sampling_weights(prep.volumes, slices, class_balance=0.5), seed=0)
    classes = prep.label_table.num_classes
    dataset = SliceDataset(prep.volumes, slices, image_size, context=1, num_classes=classes, augment=True)
    item = dataset[(0, 0)]
    print(
        f"sample: label {tuple(item['label'].shape)}, image {tuple(item['image'].shape)}; "
        f"{len(slices)} slices; batch {batch}, {iterations} batches per run"
    )
    probes = Path(tempfile.mkdtemp(prefix="probe_"))
    try:
        for workers in (0, 2):
            reset_peak()
            loader = DataLoader(
                MemoryProbe(dataset, probes) if workers else dataset,
                batch_sampler=IterationBatches(sampler, batch, 0, iterations),
                num_workers=workers,
            )
            rate = draw(loader, iterations, batch)
            extra = "".join(
                f"\n    worker: peak RSS {hwm:.0f} MB (anonymous {anon:.0f} MB)"
                for hwm, anon in worker_peaks(probes)
            )
            print(
                f"DataLoader(num_workers={workers}): {rate:6.0f} samples/s ({rate / batch:5.1f} batches/s); "
                f"main process {memory()}{extra}"
            )
    finally:
        shutil.rmtree(probes, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=8)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--slices", type=int, default=200)
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--keep", type=Path, help="write the volumes (and the cache) here and keep them")
    p.add_argument("--measure", nargs=2, type=Path, help=argparse.SUPPRESS)  # internal: the measuring child
    args = p.parse_args()
    if args.measure:
        measure(args.measure[0], args.measure[1], args.image_size, args.batch, args.iterations)
        return 0

    base = args.keep or Path(tempfile.mkdtemp(prefix="synthvol_sampler_bench_"))
    data, cache = base / "data", base / "cache"
    try:
        if len(list(data.glob("*_seg.nii"))) != args.cases:
            shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)
            data.mkdir(parents=True)
            t0 = time.perf_counter()
            write_dataset(data, args.cases, args.size, args.slices)
            print(f"wrote {args.cases} cases in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        voxels_gb = sum(f.stat().st_size for f in data.glob("case_???.nii")) / 2**30
        print(
            f"SynthVol sampler benchmark: {args.cases} CT volumes {args.size}x{args.size}x{args.slices} int16 "
            f"({voxels_gb:.2f} GB of images, float32 in memory {2 * voxels_gb:.2f} GB) + labels, in {data}"
        )
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"
        )
        cmd = [
            sys.executable,
            __file__,
            "--measure",
            str(data),
            str(cache),
            "--image-size",
            str(args.image_size),
            "--batch",
            str(args.batch),
            "--iterations",
            str(args.iterations),
        ]
        subprocess.run(cmd, check=True)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
