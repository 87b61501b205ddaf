"""How fast does discover() scan a folder of DICOM files, and how much memory does it take?

Writes a DICOM tree (default 5 series x 200 slices of 256x256, 1,000 files, ~130 MB) into a
temporary folder, or into --keep DIR (reused when it already holds the files), then times
discover() in headers-only mode (verify=False, `scan --quick`) and in the default mode.

    python benchmarks/scan_speed.py [--series 5] [--slices 200] [--size 256] [--keep DIR] [--profile]

Target (issue 2): 1,000 DICOM files scanned in under 5 s. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from engine.data import discover  # noqa: E402
from tests.engine.data_factory import write_dicom_series  # noqa: E402


def write_tree(root: Path, series: int, slices: int, size: int) -> int:
    """patient_<i>/<series>/IM....dcm; returns the number of files."""
    rng = np.random.default_rng(0)
    base = rng.integers(-1000, 1500, size=(size, size), dtype=np.int16)
    for s in range(series):
        arr = np.broadcast_to(base, (slices, size, size)) + np.arange(slices, dtype=np.int16)[:, None, None]
        write_dicom_series(
            root / f"patient_{s:02d}" / f"CT_{s + 1}",
            arr,
            spacing=(0.7, 0.7, 1.0),
            series_number=s + 1,
            name="IM{index:05d}.dcm",
        )
        print(f"  wrote series {s + 1}/{series}", file=sys.stderr)
    return series * slices


def peak_rss_mb() -> float:
    """Peak RSS of this process: VmHWM (Linux; not inherited through exec), else ru_maxrss."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


def timed_scan(root: Path, verify: bool, workers: int, trace: bool = False) -> tuple[float, float, object]:
    """(seconds, Python heap peak in MB or nan, result). tracemalloc slows Python down several
    times, so the timing runs and the memory run are separate."""
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    result = discover(root, verify=verify, workers=workers)
    seconds = time.perf_counter() - t0
    peak = float("nan")
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return seconds, peak, result


def measure(root: Path, workers: int, repeat: int, profile: bool) -> None:
    """Runs in a fresh process, so its peak RSS is the scan's (plus the imports), not the writer's."""
    n_files = count_files(root)
    rss0 = peak_rss_mb()
    for label, verify in (
        ("headers only (verify=False, scan --quick)", False),
        ("default (verify=True)", True),
    ):
        runs = [timed_scan(root, verify, workers) for _ in range(repeat)]
        seconds, _, result = min(runs, key=lambda r: r[0])
        median = sorted(r[0] for r in runs)[len(runs) // 2]
        _, heap, _ = timed_scan(root, verify, workers, trace=True)
        ok = sum(c.ok for c in result.cases)
        print(
            f"{label:42s} best {seconds:5.2f} s (median {median:5.2f} s)  {n_files / seconds:6.0f} files/s  "
            f"Python heap peak {heap:5.1f} MB  cases ok {ok}/{len(result.cases)}"
        )
    rss = peak_rss_mb()
    print(f"peak RSS of the scanning process: {rss:.0f} MB ({rss0:.0f} MB of it after the imports)")
    if profile:
        prof = cProfile.Profile()
        prof.enable()
        discover(root, verify=False, workers=1)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(18)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", type=int, default=5)
    p.add_argument("--slices", type=int, default=200)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--keep", type=Path, help="write the DICOM tree here and keep it (reused if present)")
    p.add_argument("--workers", type=int, default=2, help="discover()'s threads (default 2)")
    p.add_argument("--repeat", type=int, default=5, help="scans per mode; the best is reported")
    p.add_argument("--profile", action="store_true", help="print a cProfile of one headers-only scan")
    p.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: the scanning child process
    args = p.parse_args()
    if args.measure:
        measure(args.measure, args.workers, args.repeat, args.profile)
        return 0

    root = args.keep or Path(tempfile.mkdtemp(prefix="synthvol_scan_bench_"))
    try:
        expected = args.series * args.slices
        if count_files(root) != expected:
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            t0 = time.perf_counter()
            write_tree(root, args.series, args.slices, args.size)
            print(f"wrote {expected} files in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        n_files = count_files(root)
        size_mb = sum(f.stat().st_size for f in root.rglob("*.dcm")) / 2**20
        print(
            f"SynthVol scan benchmark: {n_files} DICOM files ({args.series} series x {args.slices} slices of "
            f"{args.size}x{args.size}, {size_mb:.0f} MB) in {root}"
        )
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; "
            f"discover(workers={args.workers}); files in the OS page cache (warm)"
        )
        cmd = [
            sys.executable,
            __file__,
            "--measure",
            str(root),
            "--workers",
            str(args.workers),
            "--repeat",
            str(args.repeat),
        ] + (["--profile"] if args.profile else [])
        subprocess.run(cmd, check=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
