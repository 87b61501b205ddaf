"""The sub-commands of the CLI, each a thin shell over one engine function."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="find and check the cases in a dataset folder")
    p.add_argument("data", type=Path, help="dataset folder (nnU-Net, MSD, images/+labels/, DICOM tree, files)")
    p.add_argument("--json", action="store_true", help="print JSON (the CLI contract) instead of a table")
    p.add_argument("--modality", choices=["CT", "MR"], help="set the modality of every case")
    p.add_argument("--quick", action="store_true", help="headers only: do not read voxels to check them")
    p.set_defaults(func=cmd_scan)


def cmd_scan(args) -> int:
    from engine.cli import EXIT_NO_DATA, print_json
    from engine.cli_progress import ProgressPrinter
    from engine.data import discover
    from engine.data.report import format_scan_table

    if not args.data.exists():
        print(f"Error: {args.data}: no such file or folder.", file=sys.stderr)
        return EXIT_NO_DATA
    printer = ProgressPrinter(enabled=not args.json, unit="cases", show_warnings=False)
    result = discover(args.data, modality=args.modality, verify=not args.quick, on_event=printer)
    printer.close()
    if args.json:
        print_json(result.to_json())
    else:
        print(format_scan_table(result))
    return 0 if result.usable_cases else EXIT_NO_DATA
