"""Export speed: one 512x512x300 CT with 5 labels, all formats, beside a plain write of its arrays.

    .venv/bin/python benchmarks/export_speed.py [--size 512] [--slices 300] [--seg-type BINARY]

Prints wall and CPU seconds (all threads) and MB/s for the plain write (np.save of the int16 image
+ uint8 label), for the whole export and for each format alone, with the wall-time ratio to the
plain write. CPU seconds stay meaningful when other work shares the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.labels import LabelTable
from engine.export import ExportCase, ExportConfig, export_dataset

NAMES = {0: "background", 1: "liver", 2: "kidney", 3: "spleen", 4: "pancreas", 5: "tumour"}


def make_case(size: int, slices: int) -> tuple[np.ndarray, np.ndarray]:
    """A CT-like volume: five ellipsoids with their own HU, Gaussian noise, air around the body."""
    rng = np.random.default_rng(0)
    zz, yy, xx = np.ogrid[:slices, :size, :size]
    c, z = size / 2, slices / 2
    label = np.zeros((slices, size, size), np.uint8)
    body = ((yy - c) / (0.42 * size)) ** 2 + ((xx - c) / (0.45 * size)) ** 2 < 1
    for value, (dz, dy, dx, r) in enumerate(
        [
            (0, -0.1, -0.1, 0.18),
            (0, 0.05, 0.2, 0.08),
            (0.1, -0.05, 0.25, 0.07),
            (-0.1, 0.1, -0.05, 0.06),
            (0.05, -0.1, -0.15, 0.04),
        ],
        start=1,
    ):
        sphere = (
            ((zz - z * (1 + dz)) / (slices / size)) ** 2 + (yy - c * (1 + dy)) ** 2 + (xx - c * (1 + dx)) ** 2
        )
        label[(sphere < (r * size) ** 2) & body] = value
    hu = np.array([0, 60, 30, 45, 40, 90], np.float32)
    image = np.where(body, hu[label], -1000.0).astype(np.float32)
    image += rng.normal(0, 12, image.shape).astype(np.float32)
    return image.astype(np.int16), label


def to_images(image: np.ndarray, label: np.ndarray) -> tuple[sitk.Image, sitk.Image]:
    out = []
    for array in (image, label):
        img = sitk.GetImageFromArray(array)
        img.SetSpacing((0.78, 0.78, 1.25))
        img.SetOrigin((-200.0, -200.0, -180.0))
        out.append(img)
    return out[0], out[1]


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def plain_write(folder: Path, image: np.ndarray, label: np.ndarray) -> tuple[float, float, int]:
    start, cpu = time.perf_counter(), _cpu()
    np.save(folder / "image.npy", image)
    np.save(folder / "label.npy", label)
    return time.perf_counter() - start, _cpu() - cpu, image.nbytes + label.nbytes


def timed_export(folder: Path, name: str, formats, image, label, seg_type: str) -> tuple[float, float, int]:
    case = ExportCase("syn_0001", "CT", lambda: to_images(image, label), {"label_source": "benchmark"})
    config = ExportConfig(out_dir=folder / name, formats=formats, seg_type=seg_type)
    start, cpu = time.perf_counter(), _cpu()
    result = export_dataset(config, [case], LabelTable.from_names(NAMES))
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    shutil.rmtree(result.out_dir)
    return seconds, cpu, result.bytes_written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--seg-type", default="BINARY", choices=("BINARY", "LABELMAP"))
    parser.add_argument("--repeat", type=int, default=2, help="runs per line; the fastest is shown")
    parser.add_argument("--tmp", type=Path, default=None, help="folder to write into (default: system temp)")
    args = parser.parse_args(argv)

    image, label = make_case(args.size, args.slices)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"CT {args.size}x{args.size}x{args.slices}, 5 labels, SEG {args.seg_type}; "
        f"{os.cpu_count()} CPUs, load average {load}; best of {args.repeat}"
    )
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        folder = Path(tmp)
        base_s, base_cpu, base_bytes = min(plain_write(folder, image, label) for _ in range(args.repeat))
        print(f"{'':32s} {'wall':>9s} {'CPU':>9s} {'rate':>13s} {'written':>11s} {'vs plain':>8s}")
        print(
            f"{'plain np.save (image+label)':32s} {base_s:7.2f} s {base_cpu:7.2f} s "
            f"{base_bytes / 1e6 / base_s:8.1f} MB/s {base_bytes / 1e6:8.1f} MB {1.0:7.1f}x"
        )
        runs = [
            ("export, all formats", ("dicom", "nifti", "nnunet")),
            ("  dicom only (series + SEG)", ("dicom",)),
            ("  nifti only", ("nifti",)),
            ("  nnunet only", ("nnunet",)),
        ]
        for i, (title, formats) in enumerate(runs):
            seconds, cpu, written = min(
                timed_export(folder, f"run{i}", formats, image, label, args.seg_type)
                for _ in range(args.repeat)
            )
            print(
                f"{title:32s} {seconds:7.2f} s {cpu:7.2f} s {written / 1e6 / seconds:8.1f} MB/s "
                f"{written / 1e6:8.1f} MB {seconds / base_s:7.1f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
