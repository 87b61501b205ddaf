"""The sub-commands of the CLI, each a thin shell over one engine call: arguments -> a config ->
the engine -> a few lines on the terminal. A command never prints an error itself: it raises a
SynthVolError (or lets the engine's through) and ``engine.cli.main`` reports it. The engine is
imported lazily so the CLI starts fast."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from engine.errors import Cancelled, ConfigError, DataError, ExportError

EXIT_OK, EXIT_ERROR, EXIT_NO_DATA, EXIT_CANCELLED = 0, 1, 2, 130


class NoDataFound(DataError):
    """The path given holds no data at all (exit code 2, as a scan without usable cases)."""

    exit_code = EXIT_NO_DATA


def print_json(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _encodable(text: str) -> bool:
    """Can stdout show this text (a Windows or C-locale console may not encode 'Ł')?"""
    try:
        text.encode(sys.stdout.encoding or "utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---------------------------------------------------------------------------------------- scan
def cmd_scan(args) -> int:
    from engine.cli_progress import ProgressPrinter
    from engine.data import discover
    from engine.data.report import format_scan_table

    if not args.data.exists():
        raise NoDataFound(f"{args.data}: no such file or folder.")
    printer = ProgressPrinter(enabled=not args.json, unit="cases", show_warnings=False)
    try:
        result = discover(args.data, modality=args.modality, verify=not args.quick, on_event=printer)
    finally:
        printer.close()
    if args.json:
        text = json.dumps(result.to_json(), indent=2, ensure_ascii=False)
        if not _encodable(text):  # a console that cannot show every name: still valid JSON
            text = json.dumps(result.to_json(), indent=2, ensure_ascii=True)
    else:
        text = format_scan_table(result)
        if not _encodable(text):
            enc = sys.stdout.encoding or "utf-8"
            text = text.encode(enc, errors="backslashreplace").decode(enc)
    print(text)
    return EXIT_OK if result.usable_cases else EXIT_NO_DATA


# --------------------------------------------------------------------------------------- train
def training_config_from_args(args):
    """The TrainingConfig of ``train``: --config FILE, then the flags given."""
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
    changes = {k: v for k, v in mapping.items() if v is not None}
    if args.batch_size == "auto":
        changes["auto_batch"] = True
    elif args.batch_size is not None:
        changes["batch_size"] = args.batch_size
    if args.resume:
        changes["resume"] = True
    if getattr(args, "resume_from", None) is not None:
        changes["resume_from"] = args.resume_from
    if getattr(args, "allow_changed_data", False):
        changes["allow_changed_data"] = True
    if args.compile:
        changes["compile"] = True
    return dataclasses.replace(cfg, **changes)


def cmd_train(args) -> int:
    from engine.cli_progress import ProgressPrinter, run_with_progress
    from engine.training.distributed import DistContext
    from engine.training.trainer import train

    cfg = training_config_from_args(args)
    main_rank = DistContext.from_env().is_main
    printer = ProgressPrinter(unit="it", enabled=main_rank)  # other ranks print errors only
    result = run_with_progress(train, cfg, printer)
    if not main_rank:
        return EXIT_OK
    state = "stopped" if result.stopped else "finished"
    print(f"Training {state} at iteration {result.iteration}/{result.iterations} in {result.seconds / 60:.1f} min.")
    if result.metrics.get("val_ssim") is not None:
        print(f"Validation: SSIM {result.metrics['val_ssim']:.3f}, PSNR {result.metrics.get('val_psnr', float('nan')):.2f} dB")
    print(f"Run folder: {result.run}")
    if result.checkpoint:
        print(f"Checkpoint: {result.checkpoint}")
    return EXIT_OK


# ------------------------------------------------------------------------------------ generate
def generate_configs_from_args(args, gallery: Path):
    """(GenerateConfig, ExportConfig) of ``generate``; the samples go to ``gallery``."""
    from engine.export import ExportConfig
    from engine.synthesis import GenerateConfig

    source, folder = args.label_source, None
    if source not in ("train", "augment", "rebalance", "augmented-real"):
        source, folder = "folder", Path(args.label_source)
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    export_cfg = ExportConfig(out_dir=args.out, formats=formats, dataset_name=args.dataset_name,
                              dataset_id=args.dataset_id, overwrite=args.overwrite,
                              mix_synthetic_per_real=args.mix_real).validate()
    gen_cfg = GenerateConfig(run=args.run, count=args.count, label_source=source, label_folder=folder,
                             seed=args.seed, deform_strength=args.deform_strength, rare_label=args.rare_label,
                             rare_copies=args.rare_copies, checkpoint=args.checkpoint, device=args.device,
                             gallery=gallery,
                             accept_label_differences=getattr(args, "accept_label_differences", False)).validate()
    return gen_cfg, export_cfg


def cmd_generate(args) -> int:
    from engine.cli_progress import ProgressPrinter, run_with_progress
    from engine.export import export_gallery
    from engine.export.config import FORMAT_FOLDERS
    from engine.synthesis import generate_volumes
    from engine.training.run_folder import TrainingRun

    run = TrainingRun(args.run)
    if not run.exists():
        raise DataError(f"{args.run}: not a SynthVol run folder (no config.json); train a model first.")
    if args.out.exists() and not args.overwrite:
        raise ExportError(f"{args.out} already exists; choose another folder or pass --overwrite.")
    from engine.data.synthvol_exports import check_export_target, run_dataset_folders

    check_export_target(args.out, run_dataset_folders(run))  # before minutes of generating, not after
    run.remove_stale_work()  # what a killed generate left behind
    with run.work_folder("generate") as gallery:  # the samples stay inside the run until exported
        gen_cfg, export_cfg = generate_configs_from_args(args, gallery)
        result = run_with_progress(generate_volumes, gen_cfg, ProgressPrinter(unit="volumes"))
        if result.stopped:
            raise Cancelled(f"stopped after {len(result.items)} volume(s); nothing was exported.")
        print(f"Generated {len(result.items)} volume(s) in {result.seconds:.1f} s; exporting to {args.out}")
        out = run_with_progress(
            export_gallery, export_cfg, ProgressPrinter(unit="files"),
            run=run, items=result.items, with_real=args.mix_real is not None, quality_report=args.quality_report,
        )
    if out.quality_report is not None:
        print(f"Quality report included in manifest.json: {out.quality_report}")
    print(f"Wrote {out.n_cases} case(s), {out.files} files, {out.bytes_written / 1e6:.1f} MB in {out.seconds:.1f} s")
    for fmt in export_cfg.formats:
        print(f"  {fmt}: {args.out / FORMAT_FOLDERS.get(fmt, fmt)}")
    print(f"  manifest: {out.manifest_path}")
    return EXIT_OK


# ------------------------------------------------------------------------------------ evaluate
def evaluate_config_from_args(args):
    from engine.evaluation.config import EvaluateConfig

    optional = ("samples_per_map", "diversity_maps", "max_slices", "max_reference_slices",
                "segmenter_iterations", "segmenter_batch_size", "checkpoint", "study", "study_ratios",
                "study_sources", "study_seeds", "rare_label")
    values = {k: getattr(args, k) for k in optional if getattr(args, k, None) is not None}
    return EvaluateConfig(run=args.run, data=args.data, out=args.out, seed=args.seed, device=args.device,
                          **values).validate()


def cmd_evaluate(args) -> int:
    from engine.cli_progress import ProgressPrinter, run_with_progress
    from engine.evaluation.report import evaluate_run
    from engine.evaluation.schema import HTML_FILE, REPORT_FILE, summary_table

    cfg = evaluate_config_from_args(args)
    report = run_with_progress(evaluate_run, cfg, ProgressPrinter(unit="steps"))
    if args.json:  # what was written (released: pseudonyms, no paths), not the window's in-memory copy
        print_json(json.loads((Path(args.out) / REPORT_FILE).read_text(encoding="utf-8")))
    else:
        print(summary_table(report))
        if "utility_study" in report:
            from engine.evaluation.study_tables import study_markdown

            print("\n" + study_markdown(report["utility_study"]))
        print(f"\nReport: {Path(args.out) / HTML_FILE}  ({report['seconds']:.0f} s)")
    return EXIT_OK
