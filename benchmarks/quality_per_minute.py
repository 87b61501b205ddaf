"""Quality per minute on the CPU: validation SSIM against wall time for SynthVol's quick preset
(the real `train` engine) and a textbook pix2pix step trained on the same batches and judged on the
same held-out slices with the same SSIM.

    python benchmarks/quality_per_minute.py --minutes 5
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from torchmetrics.functional.image import structural_similarity_index_measure

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_data import DemoBatches
from reference_pix2pix import ReferenceTrainer

from engine.events import Control
from engine.resources import DEMO_DATASET
from engine.training.config import TrainingConfig
from engine.training.devices import set_cpu_threads
from engine.training.run_folder import TrainingRun
from engine.training.trainer import train


def run_synthvol(seconds: float, val_every: int, threads: int | None) -> list[tuple[float, int, float]]:
    folder = Path(tempfile.mkdtemp(prefix="synthvol-qpm-"))
    cfg = TrainingConfig(data=DEMO_DATASET, run=folder / "run", preset="quick", iterations=100_000,
                         val_every=val_every, preview_every=100_000, checkpoint_every=100_000, log_every=val_every,
                         device="cpu", threads=threads, cache_dir=folder / "cache")
    control = Control()
    timer = threading.Timer(seconds, control.stop)
    timer.start()
    try:
        train(cfg, control=control)
    finally:
        timer.cancel()
    out = [(r["time_s"], r["iteration"], r["val_ssim"]) for r in TrainingRun(folder / "run").read_metrics() if "val_ssim" in r]
    shutil.rmtree(folder, ignore_errors=True)
    return out


def run_reference(seconds: float, val_every: int, threads: int | None, batch: int = 4) -> list[tuple[float, int, float]]:
    set_cpu_threads(threads)
    torch.manual_seed(0)
    data = DemoBatches(image_size=128)
    val_label, val_image = data.validation(16)
    ref = ReferenceTrainer(data.in_channels, base=32, image_size=128)
    out, it, t0 = [], 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        ref.step(*data.batch(it, batch))
        it += 1
        if it % val_every == 0:
            fake = ref.generate(val_label).clamp(-1, 1)
            ssim = float(structural_similarity_index_measure(fake, val_image, data_range=2.0))
            out.append((time.perf_counter() - t0, it, ssim))
    return out


def first_time_reaching(curve, threshold: float) -> float | None:
    return next((t for t, _, s in curve if s >= threshold), None)


def value_at(curve, t: float) -> float | None:
    before = [s for tt, _, s in curve if tt <= t]
    return before[-1] if before else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--val-every", type=int, default=25)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: cores - 1, as training uses)")
    args = p.parse_args()
    seconds = args.minutes * 60
    print(f"quality per minute on the CPU ({torch.get_num_threads()} default threads; "
          f"training uses {args.threads or 'cores - 1'}), {args.minutes:g} min each, demo data")
    ours = run_synthvol(seconds, args.val_every, args.threads)
    ref = run_reference(seconds, args.val_every, args.threads)
    print(f"\n{'time (s)':>9s}  {'SynthVol quick SSIM (it)':>26s}  {'reference pix2pix SSIM (it)':>28s}")
    for t in range(30, int(seconds) + 1, 30):
        a = [(s, i) for tt, i, s in ours if tt <= t]
        b = [(s, i) for tt, i, s in ref if tt <= t]
        fa = f"{a[-1][0]:.3f} ({a[-1][1]})" if a else "-"
        fb = f"{b[-1][0]:.3f} ({b[-1][1]})" if b else "-"
        print(f"{t:9d}  {fa:>26s}  {fb:>28s}")
    for threshold in (0.8, 0.85):
        ta, tb = first_time_reaching(ours, threshold), first_time_reaching(ref, threshold)
        print(f"SSIM >= {threshold}: SynthVol after {ta:.0f} s" if ta else f"SSIM >= {threshold}: SynthVol not reached",
              "|", f"reference after {tb:.0f} s" if tb else "reference not reached")
    end = min(ours[-1][0] if ours else 0, ref[-1][0] if ref else 0)
    va, vb = value_at(ours, end), value_at(ref, end)
    if va is not None and vb is not None:
        print(f"at {end:.0f} s (equal wall time): SynthVol {va:.3f} vs reference {vb:.3f} "
              f"-> {'matches or beats' if va >= vb - 0.005 else 'below'} the reference")


if __name__ == "__main__":
    main()
