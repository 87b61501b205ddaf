"""The sub-commands of the CLI, each a thin shell over one engine function."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="find and check the cases in a dataset folder")
    p.add_argument("data", type=Path, help="dataset folder (nnU-Net, MSD, images/+labels/, DICOM tree, files)")
    p.add_argument("--json", action="store_true", help="print JSON (the CLI contract) instead of a table")
    p.add_argument("--modality", choices=["CT", "MR"], help="set the modality of every case")
    p.add_argument("--quick", action="store_true", help="headers only: do not read voxels to check them")
    p.set_defaults(func=cmd_scan)
    register_train(sub)
    register_generate(sub)
    register_evaluate(sub)


def cmd_scan(args) -> int:
    from engine.cli import EXIT_ERROR, EXIT_NO_DATA
    from engine.cli_progress import ProgressPrinter
    from engine.data import discover
    from engine.data.report import format_scan_table
    from engine.errors import SynthVolError

    if not args.data.exists():
        print(f"Error: {args.data}: no such file or folder.", file=sys.stderr)
        return EXIT_NO_DATA
    printer = ProgressPrinter(enabled=not args.json, unit="cases", show_warnings=False)
    try:
        result = discover(args.data, modality=args.modality, verify=not args.quick, on_event=printer)
    except SynthVolError:
        raise
    except Exception as exc:  # a bug or a reader we do not control: a message, never a traceback
        logging.getLogger(__name__).debug("scan failed", exc_info=True)
        printer.close()
        print(f"Error: the scan of {args.data} failed unexpectedly ({type(exc).__name__}: {exc}). "
              "Please report this.", file=sys.stderr)
        return EXIT_ERROR
    printer.close()
    if args.json:
        text = json.dumps(result.to_json(), indent=2, ensure_ascii=False)
        if not _encodable(text):  # a console that cannot show every name: still valid JSON
            text = json.dumps(result.to_json(), indent=2, ensure_ascii=True)
        print(text)
    else:
        text = format_scan_table(result)
        if not _encodable(text):
            enc = sys.stdout.encoding or "utf-8"
            text = text.encode(enc, errors="backslashreplace").decode(enc)
        print(text)
    return 0 if result.usable_cases else EXIT_NO_DATA


def _encodable(text: str) -> bool:
    """Can stdout show this text (a Windows or C-locale console may not encode 'Ł')?"""
    try:
        text.encode(sys.stdout.encoding or "utf-8")
    except UnicodeEncodeError:
        return False
    return True


def register_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the label-map-to-image GAN (a run folder)")
    p.add_argument("--data", type=Path, help="dataset folder")
    p.add_argument("--run", "--run-dir", dest="run", type=Path, required=True,
                   help="run folder to write (or resume); under torchrun write --run-dir (torchrun takes "
                        "--run for its own --run-path option)")
    p.add_argument("--preset", choices=["quick", "quality"], help="quick (CPU, minutes) or quality (GPU)")
    p.add_argument("--iterations", type=int)
    p.add_argument("--image-size", type=int)
    p.add_argument("--batch-size", type=_batch_size, help="images per step, or 'auto' (largest that fits)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--seed", type=int)
    p.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--config", type=Path, help="a JSON file of training settings (the keys of config.json)")
    p.add_argument("--modality", choices=["CT", "MR"])
    p.add_argument("--arch", choices=["spade_unet", "pix2pix_unet"])
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument("--class-balance", type=float)
    p.add_argument("--lr-g", type=float)
    p.add_argument("--lr-d", type=float)
    p.add_argument("--workers", type=int, dest="num_workers")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: cores - 1)")
    p.add_argument("--compile", action="store_true", help="torch.compile the models (GPU)")
    p.add_argument("--val-every", type=int)
    p.add_argument("--log-every", type=int)
    p.set_defaults(func=cmd_train)


def _batch_size(text: str):
    if text == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a whole number or 'auto'") from None
    return value


def training_config_from_args(args):
    import json

    from engine.errors import ConfigError
    from engine.training.config import TrainingConfig

    base = {}
    if args.config:
        try:
            base = json.loads(args.config.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{args.config}: cannot read the settings ({exc})") from None
        base = base.get("training", base)
    cfg = TrainingConfig.from_json(base)
    mapping = {
        "data": args.data, "run": args.run, "preset": args.preset, "iterations": args.iterations,
        "image_size": args.image_size, "device": args.device, "seed": args.seed,
        "checkpoint_every": args.checkpoint_every, "modality": args.modality, "arch": args.arch,
        "precision": args.precision, "class_balance": args.class_balance, "lr_g": args.lr_g,
        "lr_d": args.lr_d, "num_workers": args.num_workers, "threads": args.threads,
        "val_every": args.val_every, "log_every": args.log_every,
    }
    import dataclasses

    changes = {k: v for k, v in mapping.items() if v is not None}
    if args.batch_size not in (None, "auto"):
        changes["batch_size"] = args.batch_size
    if args.resume:
        changes["resume"] = True
    if args.compile:
        changes["compile"] = True
    return dataclasses.replace(cfg, **changes), args.batch_size == "auto"


def cmd_train(args) -> int:
    import dataclasses

    from engine.cli_progress import ProgressPrinter, run_with_progress
    from engine.training.trainer import train

    cfg, auto_batch = training_config_from_args(args)
    if auto_batch:
        cfg = dataclasses.replace(cfg, auto_batch=True)
    from engine.training.distributed import DistContext

    main_rank = DistContext.from_env().is_main
    printer = ProgressPrinter(unit="it", enabled=main_rank)  # other ranks print errors only
    result = run_with_progress(train, cfg, printer)
    if not main_rank:
        return 0
    state = "stopped" if result.stopped else "finished"
    print(f"Training {state} at iteration {result.iteration}/{result.iterations} in {result.seconds / 60:.1f} min.")
    if result.metrics.get("val_ssim") is not None:
        print(f"Validation: SSIM {result.metrics['val_ssim']:.3f}, PSNR {result.metrics.get('val_psnr', float('nan')):.2f} dB")
    print(f"Run folder: {result.run}")
    if result.checkpoint:
        print(f"Checkpoint: {result.checkpoint}")
    return 0


def register_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate synthetic labeled volumes and export them")
    p.add_argument("--run", type=Path, required=True, help="a trained run folder")
    p.add_argument("--out", type=Path, required=True, help="export folder to create")
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--format", default="dicom,nifti,nnunet", help="comma list of dicom, nifti, nnunet")
    p.add_argument("--label-source", default="train",
                   help="train | augment (deformed training maps) | rebalance (needs --rare-label) | a folder of label maps")
    p.add_argument("--rare-label", type=int, help="label value to add more of (label source rebalance)")
    p.add_argument("--rare-copies", type=int, default=2)
    p.add_argument("--deform-strength", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--checkpoint", type=Path, help="a checkpoint of the run (default: the last)")
    p.add_argument("--mix-real", type=float, metavar="RATIO",
                   help="also put the real training cases into the nnU-Net folder, RATIO synthetic per real")
    p.add_argument("--dataset-name", default="SynthVol")
    p.add_argument("--dataset-id", type=int, default=501)
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.add_argument("--quality-report", type=Path,
                   help="a report.json from `evaluate` to include in manifest.json (default: RUN/quality/report.json if there)")
    p.set_defaults(func=cmd_generate)


def cmd_generate(args) -> int:

    from engine.cli_progress import ProgressPrinter
    from engine.evaluation import read_quality_report
    from engine.export import ExportConfig, export_dataset
    from engine.export.sources import gallery_export_cases, real_export_cases, run_info
    from engine.synthesis import GenerateConfig, Synthesizer, generate_volumes

    source, folder = args.label_source, None
    if source not in ("train", "augment", "rebalance"):
        source, folder = "folder", Path(args.label_source)
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    export_cfg = ExportConfig(out_dir=args.out, formats=formats, dataset_name=args.dataset_name,
                              dataset_id=args.dataset_id, overwrite=args.overwrite,
                              mix_synthetic_per_real=args.mix_real)
    export_cfg.validate()
    if args.out.exists() and not args.overwrite:
        print(f"Error: {args.out} already exists; choose another folder or pass --overwrite.", file=sys.stderr)
        return 1
    gen_cfg = GenerateConfig(run=args.run, count=args.count, label_source=source, label_folder=folder,
                             seed=args.seed, deform_strength=args.deform_strength, rare_label=args.rare_label,
                             rare_copies=args.rare_copies, checkpoint=args.checkpoint, device=args.device,
                             gallery=args.out.with_name(f".{args.out.name}.gallery"))
    synth = Synthesizer(args.run, args.checkpoint, args.device)
    printer = ProgressPrinter(unit="volumes")
    import shutil

    try:
        result = generate_volumes(gen_cfg, on_event=printer, synthesizer=synth)
        printer.close()
        print(f"Generated {len(result.items)} volume(s) in {result.seconds:.1f} s; exporting to {args.out}")
        report = args.quality_report or (args.run / "quality" / "report.json")  # the window's default place
        quality = read_quality_report(report) if (args.quality_report or report.is_file()) else None
        if quality is not None:
            print(f"Quality report included in manifest.json: {report}")
        cases = gallery_export_cases(result.items)
        real = real_export_cases(synth.run) if args.mix_real is not None else []
        printer = ProgressPrinter(unit="files")
        out = export_dataset(export_cfg, cases, synth.label_table, on_event=printer, real_cases=real,
                             run_info=run_info(synth), quality=quality)
        printer.close()
    finally:
        shutil.rmtree(gen_cfg.gallery, ignore_errors=True)
    print(f"Wrote {out.n_cases} case(s), {out.files} files, {out.bytes_written / 1e6:.1f} MB in {out.seconds:.1f} s")
    for fmt in formats:
        print(f"  {fmt}: {args.out / {'dicom': 'dicom', 'nifti': 'nifti', 'nnunet': 'nnUNet_raw'}[fmt]}")
    print(f"  manifest: {out.manifest_path}")
    return 0


def register_evaluate(sub: argparse._SubParsersAction) -> None:
    from engine.evaluation.command import add_arguments, cmd_evaluate

    p = sub.add_parser("evaluate", help="quality report of a trained run on held-out real data")
    add_arguments(p)
    p.set_defaults(func=cmd_evaluate)
