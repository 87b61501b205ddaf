"""Every argument of the command line, in one place (the CLI contract of DESIGN.md). Each
sub-command's ``func`` is its command in ``engine.cli_commands``; add a flag here and read it
there."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine import __version__
from engine import cli_commands as commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="SynthVol: labeled synthetic CT/MR volumes from your own data, offline.",
    )
    parser.add_argument("--version", action="version", version=f"SynthVol {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_scan(sub)
    add_train(sub)
    add_generate(sub)
    add_evaluate(sub)
    return parser


def add_scan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="find and check the cases in a dataset folder")
    p.add_argument(
        "data", type=Path, help="dataset folder (nnU-Net, MSD, images/+labels/, DICOM tree, files)"
    )
    p.add_argument("--json", action="store_true", help="print JSON (the CLI contract) instead of a table")
    p.add_argument("--modality", choices=["CT", "MR"], help="set the modality of every case")
    p.add_argument("--quick", action="store_true", help="headers only: do not read voxels to check them")
    p.set_defaults(func=commands.cmd_scan)


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the label-map-to-image GAN (a run folder)")
    p.add_argument("--data", type=Path, help="dataset folder")
    p.add_argument(
        "--run",
        "--run-dir",
        dest="run",
        type=Path,
        required=True,
        help="run folder to write (or resume); under torchrun write --run-dir (torchrun takes "
        "--run for its own --run-path option)",
    )
    p.add_argument("--preset", choices=["quick", "quality"], help="quick (CPU, minutes) or quality (GPU)")
    p.add_argument("--iterations", type=int)
    p.add_argument("--image-size", type=int)
    p.add_argument("--batch-size", type=batch_size, help="images per step, or 'auto' (largest that fits)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--seed", type=int)
    p.add_argument("--resume", action="store_true", help="continue the run from its newest intact checkpoint")
    p.add_argument(
        "--checkpoint",
        type=Path,
        dest="resume_from",
        metavar="CHECKPOINT",
        help="with --resume: the checkpoint to continue from (default: the newest intact one)",
    )
    p.add_argument(
        "--allow-changed-data",
        action="store_true",
        help="with --resume: go on although the dataset's files changed since the run began (recorded)",
    )
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
    p.set_defaults(func=commands.cmd_train)


def batch_size(text: str):
    if text == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a whole number or 'auto'") from None


def add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate synthetic labeled volumes and export them")
    p.add_argument("--run", type=Path, required=True, help="a trained run folder")
    p.add_argument("--out", type=Path, required=True, help="export folder to create")
    p.add_argument("--count", type=int, default=4)
    p.add_argument(
        "--format",
        default="dicom,nifti,nnunet",
        help="comma list of dicom, nifti, nnunet, slicer (3D Slicer .nrrd + .seg.nrrd)",
    )
    p.add_argument(
        "--label-source",
        default="train",
        help="train | augment (deformed training maps) | rebalance (needs --rare-label) | augmented-real "
        "(classically augmented real cases, no GAN) | a folder of label maps",
    )
    p.add_argument("--rare-label", type=int, help="label value to add more of (label source rebalance)")
    p.add_argument("--rare-copies", type=int, default=2)
    p.add_argument("--deform-strength", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--checkpoint", type=Path, help="a checkpoint of the run (default: the newest intact one)")
    p.add_argument(
        "--accept-label-differences",
        action="store_true",
        help="a folder of label maps whose label names differ from the run's: use it anyway",
    )
    p.add_argument(
        "--mix-real",
        type=float,
        metavar="RATIO",
        help="also put the real training cases into the nnU-Net folder, RATIO synthetic per real",
    )
    p.add_argument("--dataset-name", default="SynthVol")
    p.add_argument("--dataset-id", type=int, default=501)
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.add_argument(
        "--quality-report",
        type=Path,
        help="a report.json from `evaluate` to include in manifest.json (default: the run's own report if there)",
    )
    p.set_defaults(func=commands.cmd_generate)


def number_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("a comma list of numbers, e.g. 0.5,1,2,4") from None


def word_list(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="quality report of a trained run on held-out real data")
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
        "--segmenter-iterations",
        type=int,
        help="utility: iterations of each segmenter (default 200 on a CPU, 1000 on a GPU)",
    )
    p.add_argument("--segmenter-batch-size", type=int)
    p.add_argument(
        "--study",
        action="store_true",
        help="run the utility study: real, real+augmentation, synthetic, real+synthetic mixes, several seeds",
    )
    p.add_argument(
        "--ratios",
        type=number_list,
        dest="study_ratios",
        help="study: synthetic slices per real slice, comma list (default 0.5,1,2,4)",
    )
    p.add_argument(
        "--sources",
        type=word_list,
        dest="study_sources",
        help="study: label sources of the synthetic slices, comma list of train, augment, rebalance",
    )
    p.add_argument("--seeds", type=int, dest="study_seeds", help="study: seeds per condition (default 3)")
    p.add_argument("--rare-label", type=int, help="study: the rare label's value (default: the rarest label)")
    p.add_argument(
        "--test",
        type=Path,
        dest="data",
        help="study and report: a folder of labelled test cases (the same as --data)",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--checkpoint", type=Path, help="a checkpoint of the run (default: the last)")
    p.set_defaults(func=commands.cmd_evaluate)
