"""The ``evaluate`` sub-command: ``python main.py evaluate --run RUN [--data DATA] --out REPORT [--json]``.
Imports the engine lazily so the CLI starts fast."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", type=Path, required=True, help="a trained run folder")
    p.add_argument(
        "--data", type=Path, help="labelled real data to evaluate on (default: the run's held-out split)"
    )
    p.add_argument(
        "--out", type=Path, required=True, help="report folder (report.json, report.html, pictures)"
    )
    p.add_argument("--json", action="store_true", help="print report.json instead of a summary table")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--samples", type=int, dest="samples_per_map", help="diversity: styles per label map (default 4)"
    )
    p.add_argument("--diversity-maps", type=int, help="diversity: label maps sampled (default 8)")
    p.add_argument(
        "--max-slices",
        type=int,
        help="held-out slices evaluated and training slices for the segmenters (default 200)",
    )
    p.add_argument(
        "--max-reference-slices", type=int, help="training slices searched for memorisation (default 4000)"
    )
    p.add_argument(
        "--segmenter-iterations", type=int, help="utility: iterations of each segmenter (default 250)"
    )
    p.add_argument("--segmenter-batch-size", type=int)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--checkpoint", type=Path, help="a checkpoint of the run (default: the last)")


def config_from_args(args):
    from engine.evaluation.config import EvaluateConfig

    optional = (
        "samples_per_map",
        "diversity_maps",
        "max_slices",
        "max_reference_slices",
        "segmenter_iterations",
        "segmenter_batch_size",
        "checkpoint",
    )
    values = {k: getattr(args, k) for k in optional if getattr(args, k, None) is not None}
    return EvaluateConfig(
        run=args.run, data=args.data, out=args.out, seed=args.seed, device=args.device, **values
    ).validate()


def cmd_evaluate(args) -> int:
    from engine.cli import print_json
    from engine.cli_progress import ProgressPrinter, run_with_progress
    from engine.evaluation.report import evaluate_run
    from engine.evaluation.schema import summary_table

    cfg = config_from_args(args)
    report = run_with_progress(evaluate_run, cfg, ProgressPrinter(unit="steps"))
    if args.json:
        print_json(report)
    else:
        print(summary_table(report))
        print(f"\nReport: {Path(args.out) / 'report.html'}  ({report['seconds']:.0f} s)")
    return 0
