"""The GPU, measured, in one short run (issue 16): run it whenever a CUDA machine is lent.

    python benchmarks/gpu_check.py                       # CUDA: the figures (under 8 minutes)
    python benchmarks/gpu_check.py --device cpu --smoke  # any machine: every code path at tiny sizes

On CUDA it measures, with the real GanTrainer and the quality preset's ModelConfig (8 classes):
- the training step (images/s; an image is one slice) in fp32, bf16, bf16 + channels_last and
  bf16 + channels_last + torch.compile, at 256 and 512 px (the preset's batch at 256 px, a quarter
  of it at 512 px);
- the peak CUDA memory of the bf16 + channels_last step against engine/training/memory_plan.py's
  estimate for that batch;
- the generation time of a 512 x 512 x 300 volume through engine/synthesis/synthesizer.py (a
  quality-preset run trained for one iteration on the bundled demo; the second of two volumes);
- DDP on every visible GPU (torchrun child processes) against one GPU, bf16 + channels_last at
  256 px.
It prints one table and writes it as JSON (--json). Targets: bf16 >= 2x fp32; the estimate within
15 % of the peak; a 512 x 512 x 300 volume in under 10 s. Without CUDA it says so and exits 2 (use
--device cpu --smoke to check the script itself; those figures mean nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_report import print_table  # noqa: E402

MODES = {  # name: (precision, channels_last, compile)
    "fp32": ("fp32", False, False),
    "bf16": ("bf16", False, False),
    "bf16+channels_last": ("bf16", True, False),
    "bf16+channels_last+compile": ("bf16", True, True),
}
NUM_CLASSES = 8
TINY_MODEL = {"max_channels": 16, "spade_hidden": 8, "style_dim": 4, "d_base_channels": 8, "d_layers": 2}
GENERATION_SIZE = (512, 512, 300)  # x, y, z


@dataclasses.dataclass
class Plan:
    device: torch.device
    smoke: bool
    sizes: tuple[int, ...]
    seconds: float  # timed seconds per step row (at least min_steps steps)
    min_steps: int
    warmup: int
    compile_backend: str
    generation_size: tuple[int, int, int]
    ddp_procs: int
    deadline: float

    def time_left(self) -> bool:
        return time.monotonic() < self.deadline


def training_config(plan: Plan, size: int):
    from engine.training.config import TrainingConfig

    overrides = {"model_overrides": dict(TINY_MODEL), "base_channels": 8} if plan.smoke else {}
    preset = "quick" if plan.smoke else "quality"
    return TrainingConfig(preset=preset, image_size=size, **overrides).resolved()


def batch_stacks(plan: Plan, cfg, model_cfg, size: int) -> int:
    slices = cfg.batch_size if size == plan.sizes[0] else max(1, cfg.batch_size // 4)  # the larger: a quarter
    return max(1, slices // model_cfg.d_slices)


def fake_batch(model_cfg, stacks: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    s = model_cfg.d_slices
    label = torch.zeros(stacks, s, model_cfg.in_channels, size, size)
    label[:, :, 0] = 1.0  # the speed of a step does not depend on the label's content
    return label, torch.rand(stacks, s, 1, size, size) * 2 - 1


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_step(plan: Plan, size: int, mode: str) -> dict:
    """images/s of GanTrainer.step in ``mode`` at ``size`` px, and its peak CUDA memory."""
    from engine.training.gan import GanTrainer, step_settings_for

    precision, channels_last, compiled = MODES[mode]
    cfg = training_config(plan, size)
    model_cfg = cfg.model_config(NUM_CLASSES)
    stacks = batch_stacks(plan, cfg, model_cfg, size)
    device = plan.device
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    torch.manual_seed(0)
    settings = step_settings_for(cfg, precision, channels_last)
    gan = GanTrainer(model_cfg, settings, device, cfg.lr_g, cfg.lr_d, (cfg.beta1, cfg.beta2), cfg.ema_decay)
    if compiled:  # as the trainer does with --compile
        gan.gen_ddp = torch.compile(gan.gen_ddp, backend=plan.compile_backend)
        gan.disc_ddp = torch.compile(gan.disc_ddp, backend=plan.compile_backend)
    label, image = fake_batch(model_cfg, stacks, size)
    t_warm = time.perf_counter()
    for _ in range(plan.warmup):
        gan.step(label, image)
    _sync(device)
    warm_s = time.perf_counter() - t_warm
    n, t0 = 0, time.perf_counter()
    while n < plan.min_steps or time.perf_counter() - t0 < plan.seconds:
        gan.step(label, image)
        n += 1
    _sync(device)
    seconds = time.perf_counter() - t0
    images = n * stacks * model_cfg.d_slices
    peak = torch.cuda.max_memory_allocated(device) - base if device.type == "cuda" else None
    del gan
    return {
        "size": size, "mode": mode, "batch_slices": stacks * model_cfg.d_slices, "steps": n,
        "images_per_s": images / seconds, "step_s": seconds / n, "warmup_s": warm_s, "peak_bytes": peak,
    }  # fmt: skip


def measure_memory_plan(plan: Plan, size: int, measured: dict) -> dict:
    from engine.training.memory_plan import estimate_memory

    precision, channels_last, _ = MODES["bf16+channels_last"]
    cfg = training_config(plan, size)
    model_cfg = cfg.model_config(NUM_CLASSES)
    est = estimate_memory(model_cfg, plan.device, precision, channels_last, cfg.lambda_div)
    estimate = est.bytes_for(measured["batch_slices"])
    peak = measured.get("peak_bytes")
    return {
        "size": size, "batch_slices": measured["batch_slices"], "estimate_bytes": estimate, "peak_bytes": peak,
        "estimate_over_peak": estimate / peak if peak else None, "method": est.measured,
    }  # fmt: skip


def measure_generation(plan: Plan, work: Path) -> dict:
    """Seconds for one volume of ``plan.generation_size`` through Synthesizer.synthesize."""
    import numpy as np
    import SimpleITK as sitk

    from engine.resources import DEMO_DATASET
    from engine.synthesis import Synthesizer
    from engine.training.config import TrainingConfig
    from engine.training.trainer import train

    size = 64 if plan.smoke else 256
    overrides = {"model_overrides": dict(TINY_MODEL), "base_channels": 8} if plan.smoke else {}
    run = work / "run"
    t0 = time.perf_counter()
    train(TrainingConfig(data=DEMO_DATASET, run=run, preset="quick" if plan.smoke else "quality", iterations=1,
                         image_size=size, val_every=1, val_slices=2, device=str(plan.device),
                         cache_dir=work / "cache", **overrides))  # fmt: skip
    setup_s = time.perf_counter() - t0
    synth = Synthesizer(run, device=str(plan.device))
    nx, ny, nz = plan.generation_size
    demo = sitk.ReadImage(str(DEMO_DATASET / "labelsTr" / "icbm152_2009a.nii.gz"))
    ref = sitk.Image([nx, ny, nz], sitk.sitkUInt8)
    extent = np.array(demo.GetSize()) * np.array(demo.GetSpacing())
    ref.SetSpacing((synth.spacing, synth.spacing, float(extent[2]) / nz))  # the run's own in-plane grid
    ref.SetOrigin(demo.GetOrigin())
    label = sitk.Resample(demo, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    times = []
    for seed in range(2):  # the first one also pays for cuDNN's autotuning
        t = time.perf_counter()
        image = synth.synthesize(label, seed=seed, batch_size=8 if plan.smoke else 32)
        _sync(plan.device)
        times.append(time.perf_counter() - t)
        assert image.GetSize() == label.GetSize()
    return {
        "size_xyz": list(plan.generation_size),
        "seconds": times[-1],
        "first_s": times[0],
        "setup_s": setup_s,
    }


def measure_ddp(plan: Plan, single: dict | None, work: Path) -> dict:
    """torchrun on ``plan.ddp_procs`` processes (one per GPU), bf16 + channels_last at the first size."""
    result = work / "ddp.json"
    size = plan.sizes[0]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(plan.ddp_procs),
           str(Path(__file__).resolve()), "--ddp-child", str(result), "--size", str(size),
           "--device", plan.device.type, "--seconds", str(plan.seconds), "--min-steps", str(plan.min_steps)]  # fmt: skip
    if plan.smoke:
        cmd.append("--smoke")
    if plan.device.type == "cuda":
        torch.cuda.empty_cache()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    if done.returncode != 0:
        return {"error": f"torchrun exited {done.returncode}: {done.stderr.strip()[-800:]}"}
    out = json.loads(result.read_text())
    one = single["images_per_s"] if single else None
    out["single_images_per_s"] = one
    out["speedup"] = out["images_per_s"] / one if one else None
    return out


def ddp_child(args) -> int:
    """One torchrun rank: DDP training steps; rank 0 writes the total images/s to args.ddp_child."""
    import torch.distributed as dist

    from engine.training.distributed import DistContext
    from engine.training.gan import GanTrainer, step_settings_for

    ctx = DistContext.from_env()
    device = torch.device(f"cuda:{ctx.local_rank}") if args.device == "cuda" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    ctx.init(device.type)
    plan = make_plan(args, device)
    cfg = training_config(plan, args.size)
    model_cfg = cfg.model_config(NUM_CLASSES)
    stacks = batch_stacks(plan, cfg, model_cfg, args.size)
    precision, channels_last, _ = MODES["bf16+channels_last"]
    torch.manual_seed(0)
    gan = GanTrainer(model_cfg, step_settings_for(cfg, precision, channels_last), device, cfg.lr_g, cfg.lr_d,
                     (cfg.beta1, cfg.beta2), cfg.ema_decay)  # fmt: skip
    gan.wrap_ddp([device.index] if device.type == "cuda" else None)
    label, image = fake_batch(model_cfg, stacks, args.size)
    for _ in range(plan.warmup):
        gan.step(label, image)
    _sync(device)
    ctx.barrier()
    n, t0 = 0, time.perf_counter()
    while True:  # every rank steps the same number of times: rank 0 decides when to stop
        gan.step(label, image)
        n += 1
        if ctx.broadcast_flag(n >= plan.min_steps and time.perf_counter() - t0 >= plan.seconds):
            break
    _sync(device)
    elapsed = torch.tensor([time.perf_counter() - t0], dtype=torch.float64, device=device)
    dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
    if ctx.is_main:
        images = n * stacks * model_cfg.d_slices * ctx.world_size
        Path(args.ddp_child).write_text(json.dumps({
            "world_size": ctx.world_size, "size": args.size, "steps": n, "images_per_s": images / float(elapsed),
            "batch_slices_per_rank": stacks * model_cfg.d_slices, "backend": dist.get_backend(),
        }))  # fmt: skip
    dist.destroy_process_group()
    return 0


def make_plan(args, device: torch.device) -> Plan:
    smoke = args.smoke
    procs = args.ddp_procs or (2 if device.type != "cuda" else torch.cuda.device_count())
    return Plan(
        device=device, smoke=smoke, sizes=(64, 80) if smoke else (256, 512), seconds=args.seconds,
        min_steps=args.min_steps, warmup=1 if smoke else 3, compile_backend="eager" if smoke else "inductor",
        generation_size=(64, 64, 8) if smoke else GENERATION_SIZE, ddp_procs=max(1, procs),
        deadline=time.monotonic() + args.budget_s,
    )  # fmt: skip


def guarded(measure, row: dict, *args) -> dict:
    """``measure(*args)``, or ``row`` with what went wrong (one failing row never ends the check)."""
    if MODES.get(row.get("mode", ""), (None, None, False))[2]:
        torch._dynamo.reset()  # each compiled row compiles afresh (no shapes carried over from the last)
    try:
        return measure(*args)
    except torch.OutOfMemoryError:
        return {**row, "error": "out of memory"}
    except Exception as exc:
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        return {**row, "error": f"{type(exc).__name__}: {text}"}
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--smoke", action="store_true", help="tiny sizes: checks every code path, not the speed")
    p.add_argument("--json", type=Path, default=Path("gpu_check.json"), help="where the table goes as JSON")
    p.add_argument(
        "--seconds", type=float, default=None, help="timed seconds per step row (default 8; smoke 0)"
    )
    p.add_argument(
        "--min-steps", type=int, default=None, help="at least this many timed steps (default 5; smoke 2)"
    )
    p.add_argument("--budget-s", type=float, default=420.0, help="rows not started by then are skipped")
    p.add_argument(
        "--ddp-procs", type=int, default=0, help="DDP processes (default: every GPU; CPU smoke: 2)"
    )
    p.add_argument("--size", type=int, default=256, help=argparse.SUPPRESS)
    p.add_argument("--ddp-child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.seconds = args.seconds if args.seconds is not None else (0.0 if args.smoke else 8.0)
    args.min_steps = args.min_steps if args.min_steps is not None else (2 if args.smoke else 5)
    if args.ddp_child:
        return ddp_child(args)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"No CUDA GPU is available here (torch {torch.__version__}, built for CUDA {torch.version.cuda}): "
              "no GPU figures. Run this on a machine with a GPU; --device cpu --smoke only checks the script.",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.device == "cpu" and not args.smoke:
        print(
            "--device cpu is for --smoke (a check of the script); its figures mean nothing.", file=sys.stderr
        )
        return 2
    device = torch.device("cuda", 0) if args.device == "cuda" else torch.device("cpu")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        machine = (
            f"{torch.cuda.get_device_name(device)} x{torch.cuda.device_count()}, torch {torch.__version__}"
        )
    else:
        from engine.training.devices import set_cpu_threads

        threads = set_cpu_threads()  # as training does: cores - 1
        machine = f"CPU smoke run ({threads} thread(s)), torch {torch.__version__}: the figures mean nothing"
    plan = make_plan(args, device)
    started = time.monotonic()
    report: dict = {"machine": machine, "smoke": plan.smoke, "steps": [], "memory": []}
    for size in plan.sizes:
        for mode in MODES:
            if not plan.time_left():
                report["steps"].append({"size": size, "mode": mode, "error": "skipped: time budget"})
                continue
            if plan.smoke and MODES[mode][2] and size != plan.sizes[0]:  # tracing is most of a smoke run
                report["steps"].append({"size": size, "mode": mode, "error": "skipped: smoke compiles once"})
                continue
            t = time.monotonic()
            report["steps"].append(guarded(measure_step, {"size": size, "mode": mode}, plan, size, mode))
            print(f"  step {size} px {mode}: {time.monotonic() - t:.0f} s", flush=True)
    for size in plan.sizes:
        row = next(
            (r for r in report["steps"] if r["size"] == size and r["mode"] == "bf16+channels_last"), {}
        )
        if "batch_slices" in row:
            report["memory"].append(guarded(measure_memory_plan, {"size": size}, plan, size, row))
    with tempfile.TemporaryDirectory(prefix="synthvol-gpucheck-") as tmp:
        skipped = {"error": "skipped: time budget"}
        t = time.monotonic()
        report["generation"] = (
            guarded(measure_generation, {}, plan, Path(tmp)) if plan.time_left() else skipped
        )
        print(f"  generation: {time.monotonic() - t:.0f} s", flush=True)
        single = next((r for r in report["steps"] if r["size"] == plan.sizes[0]
                       and r["mode"] == "bf16+channels_last" and "images_per_s" in r), None)  # fmt: skip
        t = time.monotonic()
        report["ddp"] = guarded(measure_ddp, {}, plan, single, Path(tmp)) if plan.time_left() else skipped
        print(f"  DDP: {time.monotonic() - t:.0f} s", flush=True)
    report["seconds"] = time.monotonic() - started
    print_table(report, GENERATION_SIZE)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
