"""Export speed: one CT-like volume with N labels, beside a plain write of its arrays, in one run.

    .venv/bin/python benchmarks/export_speed.py [--size 512] [--slices 300] [--labels 5] [--seg-type BINARY]
    .venv/bin/python benchmarks/export_speed.py --slices 61 --labels 6     # issue 16's case

Prints wall and CPU seconds (all threads) and MB/s for the plain write (np.save of the int16 image
+ uint8 label), for issue 16's export (DICOM series + SEG + NIfTI), the whole export (+ nnU-Net) and
each format alone, with the ratio to the plain write side by side (wall and CPU). CPU seconds stay
meaningful when other work shares the machine. ``--profile`` adds a cProfile of the DICOM part.
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

NAMES = {0: "background", 1: "liver", 2: "kidney", 3: "spleen", 4: "pancreas", 5: "tumour", 6: "aorta"}
# (dz, dy, dx, radius) of each label's ellipsoid, relative to the volume
BLOBS = [
    (0, -0.1, -0.1, 0.18),
    (0, 0.05, 0.2, 0.08),
    (0.1, -0.05, 0.25, 0.07),
    (-0.1, 0.1, -0.05, 0.06),
    (0.05, -0.1, -0.15, 0.04),
    (0, 0.2, 0.0, 0.03),
]
HU = [0, 60, 30, 45, 40, 90, 200]


def make_case(size: int, slices: int, labels: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """A CT-like volume: ``labels`` ellipsoids with their own HU, Gaussian noise, air around the body."""
    rng = np.random.default_rng(0)
    zz, yy, xx = np.ogrid[:slices, :size, :size]
    c, z = size / 2, slices / 2
    label = np.zeros((slices, size, size), np.uint8)
    body = ((yy - c) / (0.42 * size)) ** 2 + ((xx - c) / (0.45 * size)) ** 2 < 1
    for value, (dz, dy, dx, r) in enumerate(BLOBS[:labels], start=1):
        sphere = (
            ((zz - z * (1 + dz)) / (slices / size)) ** 2 + (yy - c * (1 + dy)) ** 2 + (xx - c * (1 + dx)) ** 2
        )
        label[(sphere < (r * size) ** 2) & body] = value
    hu = np.array(HU, np.float32)
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


def plain_write_gzip(folder: Path, image: np.ndarray, label: np.ndarray) -> tuple[float, float, int]:
    """The plain write plus the deflate .nii.gz demands (the export's own compressor, one thread)."""
    from engine.export.nifti import gzip_file

    start, cpu = time.perf_counter(), _cpu()
    for name, array in (("image", image), ("label", label)):
        np.save(folder / f"{name}.npy", array)
        gzip_file(folder / f"{name}.npy", folder / f"{name}.npy.gz")
    return time.perf_counter() - start, _cpu() - cpu, image.nbytes + label.nbytes


def timed_export(folder: Path, name: str, formats, image, label, seg_type: str) -> tuple[float, float, int]:
    case = ExportCase("syn_0001", "CT", lambda: to_images(image, label), {"label_source": "benchmark"})
    config = ExportConfig(out_dir=folder / name, formats=formats, seg_type=seg_type)
    start, cpu = time.perf_counter(), _cpu()
    result = export_dataset(config, [case], LabelTable.from_names(NAMES))
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    shutil.rmtree(result.out_dir)
    return seconds, cpu, result.bytes_written


RUNS = [
    ("issue 16: dicom + SEG + nifti", ("dicom", "nifti")),
    ("export, all formats (+ nnunet)", ("dicom", "nifti", "nnunet")),
    ("  dicom only (series + SEG)", ("dicom",)),
    ("  nifti only", ("nifti",)),
    ("  nnunet only", ("nnunet",)),
    ("  slicer only (.nrrd + .seg.nrrd)", ("slicer",)),
]


def profile_dicom(folder: Path, image, label, seg_type: str, top: int = 18) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    timed_export(folder, "profiled", ("dicom",), image, label, seg_type)
    profiler.disable()
    print(f"\ncProfile of the DICOM export (series + SEG), top {top} by cumulative time:")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


def time_parts(folder: Path, image, label, repeat: int = 5) -> None:
    """CPU seconds of each part of the export, called one by one (best of ``repeat``)."""
    from engine.export import dicom_seg, dicom_series, nifti
    from engine.export.dicom_header import CaseIdentity, Provenance
    from engine.export.uids import CaseUIDs
    from engine.export.volume import prepare_case

    table = LabelTable.from_names(NAMES)
    case = ExportCase("syn_0001", "CT", lambda: to_images(image, label), {})
    best: dict[str, float] = {}

    def part(name, fn, *args):
        cpu = time.process_time()
        out = fn(*args)
        best[name] = min(best.get(name, 1e9), time.process_time() - cpu)
        return out

    def ignore(_path) -> None:
        pass

    for rep in range(repeat):
        d = folder / f"parts{rep}"
        prepared = part("prepare the case (load, check, convert)", prepare_case, case, table)
        uids = CaseUIDs.mint(prepared.n_slices)
        who = CaseIdentity(
            "syn_0001", "SYN-X-0001", "SYNTHETIC^syn_0001", uids.study, uids.frame_of_reference, "S1"
        )
        prov = Provenance(checkpoint_id="ab" * 32)
        part("sha256 of image + label (worker)", prepared.checksums)
        headers = part(
            "DICOM slice files", dicom_series.write_series, d / "CT_1", prepared, who, uids, prov, ignore
        )
        request = dicom_seg.SegRequest(prepared, headers, who, uids, prov, table)
        part("DICOM SEG", dicom_seg.write_case_seg, d / "SEG", request)
        image_nii = part(
            "NIfTI image before deflate", nifti.write_uncompressed, prepared.image(), d / "i.nii.gz"
        )
        label_nii = part(
            "NIfTI label before deflate", nifti.write_uncompressed, prepared.label_image(), d / "l.nii.gz"
        )
        part("deflate of the image (worker)", nifti.gzip_file, image_nii, d / "i.nii.gz")
        part("deflate of the label (worker)", nifti.gzip_file, label_nii, d / "l.nii.gz")
        shutil.rmtree(d)
    print(f"\nCPU seconds per part, best of {repeat}:")
    for name, seconds in best.items():
        print(f"  {name:42s} {seconds:6.3f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--labels", type=int, default=5, choices=range(1, len(BLOBS) + 1), metavar="1-6")
    parser.add_argument("--seg-type", default="BINARY", choices=("BINARY", "LABELMAP"))
    parser.add_argument("--repeat", type=int, default=2, help="runs per line; the fastest is shown")
    parser.add_argument("--tmp", type=Path, default=None, help="folder to write into (default: system temp)")
    parser.add_argument(
        "--only-issue", action="store_true", help="only the plain write and issue 16's export"
    )
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of the DICOM part")
    parser.add_argument("--parts", action="store_true", help="also print the CPU seconds of each part")
    args = parser.parse_args(argv)

    image, label = make_case(args.size, args.slices, args.labels)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"CT {args.size}x{args.size}x{args.slices}, {args.labels} labels, SEG {args.seg_type}; "
        f"{os.cpu_count()} CPUs, load average {load}; best of {args.repeat} (plain write: best of "
        f"{3 * args.repeat})"
    )
    runs = RUNS[:1] if args.only_issue else RUNS
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        folder = Path(tmp)
        base_s, base_cpu, base_bytes = min(plain_write(folder, image, label) for _ in range(3 * args.repeat))
        head = f"{'':32s} {'wall':>9s} {'CPU':>9s} {'rate':>13s} {'written':>11s}"
        print(f"{head} {'wall/plain':>10s} {'CPU/plain':>10s}")
        print(
            f"{'plain np.save (image+label)':32s} {base_s:7.3f} s {base_cpu:7.3f} s "
            f"{base_bytes / 1e6 / base_s:8.1f} MB/s {base_bytes / 1e6:8.1f} MB {1.0:9.1f}x {1.0:9.1f}x"
        )
        gz_s, gz_cpu, _ = min(plain_write_gzip(folder, image, label) for _ in range(args.repeat))
        print(
            f"{'plain np.save + gzip (floor)':32s} {gz_s:7.3f} s {gz_cpu:7.3f} s {'':13s} {'':11s} "
            f"{gz_s / base_s:9.1f}x {gz_cpu / max(base_cpu, 1e-3):9.1f}x"
        )
        for i, (title, formats) in enumerate(runs):
            seconds, cpu, written = min(
                timed_export(folder, f"run{i}", formats, image, label, args.seg_type)
                for _ in range(args.repeat)
            )
            print(
                f"{title:32s} {seconds:7.3f} s {cpu:7.3f} s {written / 1e6 / seconds:8.1f} MB/s "
                f"{written / 1e6:8.1f} MB {seconds / base_s:9.1f}x {cpu / max(base_cpu, 1e-3):9.1f}x"
            )
        if args.profile:
            profile_dicom(folder, image, label, args.seg_type)
        if args.parts:
            time_parts(folder, image, label)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
