"""Images/s and peak memory of SynthVol's training step (quick and quality presets) beside a
textbook pix2pix step (fp32, NCHW, BCE + 100*L1, one Adam step each) at the same image size and
batch, and on CUDA the speed-ups: fp32 vs bf16 + channels_last (+ fused Adam, cudnn.benchmark) vs
torch.compile.

    python benchmarks/train_throughput.py                  # CPU: quick preset at 128, batch 4
    python benchmarks/train_throughput.py --presets quick,quality --device cuda --batch 16
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_data import DemoBatches
from reference_pix2pix import ReferenceTrainer

from engine.models.config import preset
from engine.training.config import TrainingConfig
from engine.training.devices import resolve_device, set_cpu_threads
from engine.training.gan import GanTrainer, step_settings_for
from engine.training.memory_plan import estimate_memory


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(step, batches, device, warmup: int, seconds: float, batch: int) -> tuple[float, float]:
    """(images/s, peak GB) of ``step(label, image)`` over about ``seconds`` after ``warmup`` steps."""
    for i in range(warmup):
        step(*batches[i % len(batches)])
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    n, t0 = 0, time.perf_counter()
    while True:
        step(*batches[n % len(batches)])
        n += 1
        if n % 5 == 0:
            _sync(device)
            if time.perf_counter() - t0 >= seconds:
                break
    _sync(device)
    dt = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return n * batch / dt, peak


def cpu_step_bytes(step, batch, params) -> float:
    """GB a step holds on the CPU: tensors saved for backward + weights, grads and Adam state."""
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step(*batch)
    return (sum(saved) + 4 * sum(p.numel() * p.element_size() for p in params)) / 2**30


def synthvol_step(cfg, device, precision, channels_last, compile_, preset_name: str = "quick"):
    train = TrainingConfig(preset=preset_name).resolved()  # its loss settings: the prior branch costs time
    gan = GanTrainer(cfg, step_settings_for(train, precision, channels_last), device, 2e-4, 2e-4, (0.0, 0.99), 0.999)
    if compile_:
        gan.gen_ddp = torch.compile(gan.gen_ddp)
        gan.disc_ddp = torch.compile(gan.disc_ddp)
    return gan.step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--presets", default="quick")
    p.add_argument("--image-size", type=int)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, help="CPU threads (default: cores - 1, as training uses)")
    p.add_argument("--combos", default="auto", help="comma list of fp32, bf16cl, compile (auto: all on CUDA, fp32 on CPU)")
    args = p.parse_args()
    device = resolve_device(args.device)
    if device.type == "cpu":
        threads = set_cpu_threads(args.threads)
    else:
        torch.backends.cudnn.benchmark = True
        threads = torch.get_num_threads()
    combos = (["fp32", "bf16cl", "compile"] if device.type == "cuda" else ["fp32"]) if args.combos == "auto" else args.combos.split(",")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'CPU'} ({threads} threads)"
    print(f"device: {device} {name}; torch {torch.__version__}; batch {args.batch}; {args.seconds:.0f} s per row")
    print(f"{'step':44s} {'images/s':>9s} {'peak GB':>8s} {'vs reference':>13s}")
    for preset_name in args.presets.split(","):
        size = args.image_size or preset(preset_name).image_size
        data = DemoBatches(image_size=size)
        cfg = preset(preset_name, num_classes=data.num_classes, context_slices=data.context, image_size=size)
        batches = [data.batch(i, args.batch) for i in range(8)]
        stacked = DemoBatches(image_size=size, stack=cfg.d_slices)  # SynthVol: stacks of neighbouring slices
        stack_batches = [stacked.batch(i, args.batch) for i in range(8)]
        ref = ReferenceTrainer(data.in_channels, base=32, image_size=size, device=device)
        ref_ips, ref_peak = measure(ref.step, batches, device, args.warmup, args.seconds, args.batch)
        if device.type == "cpu":
            ref_peak = cpu_step_bytes(ref.step, batches[0], [*ref.generator.parameters(), *ref.discriminator.parameters()])
        del ref
        print(f"{'reference pix2pix (fp32, NCHW), ' + str(size) + ' px':44s} {ref_ips:9.1f} {ref_peak:8.2f} {'1.00x':>13s}")
        fp32_ips = None
        for combo in combos:
            precision = "fp32" if combo == "fp32" else "bf16"
            cl = combo != "fp32" and device.type == "cuda"
            step = synthvol_step(cfg, device, precision, cl, combo == "compile", preset_name)
            ips, peak = measure(step, stack_batches, device, args.warmup + (10 if combo == "compile" else 0), args.seconds, args.batch)
            if device.type == "cpu":
                est = estimate_memory(cfg, device, precision)
                peak = est.bytes_for(args.batch) / 2**30
            label = {"fp32": "fp32", "bf16cl": "bf16 + channels_last", "compile": "bf16 + channels_last + compile"}[combo]
            extra = f"  ({ips / fp32_ips:.2f}x its fp32)" if fp32_ips and combo != "fp32" else ""
            print(f"{'SynthVol ' + preset_name + ', ' + label:44s} {ips:9.1f} {peak:8.2f} {ips / ref_ips:12.2f}x{extra}")
            if combo == "fp32":
                fp32_ips = ips
            del step
            if device.type == "cuda":
                torch.cuda.empty_cache()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"process peak RSS: {rss:.2f} GB" + (" (CPU 'peak GB': tensors saved for backward + weights, grads, Adam state)" if device.type == "cpu" else ""))


if __name__ == "__main__":
    main()
