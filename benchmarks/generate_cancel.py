"""How fast generation reacts to Cancel (issue 14 §5), phase by phase, on a 512 x 512 volume: from
``Control.stop()`` to the moment the job sees the flag (recorded inside the Control), stopping at
several moments of each phase; and how long the gallery takes to write one such volume.

    python benchmarks/generate_cancel.py            # trains a throwaway tiny run first (CPU, ~20 s)
    python benchmarks/generate_cancel.py --run RUN  # a run of your own (its generator's speed counts)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.errors import Cancelled  # noqa: E402
from engine.events import Progress  # noqa: E402
from engine.synthesis import GenerateConfig, generate_volumes  # noqa: E402
from engine.synthesis.deform import DeformParams, deform_label  # noqa: E402
from engine.synthesis.gallery import Gallery  # noqa: E402
from engine.training.run_folder import TrainingRun  # noqa: E402
from engine.training.run_record import read_run_record  # noqa: E402
from tests.engine.test_generate_cancel import TimedControl, ct_label_map  # noqa: E402


def after(seconds: float, control: TimedControl) -> None:
    threading.Timer(seconds, control.stop).start()


def deform_reactions(delays) -> list[float]:
    label = ct_label_map([0, 1, 2, 3], shape=(200, 512, 512))
    out = []
    for delay in delays:
        control = TimedControl()
        after(delay, control)
        try:
            deform_label(label, DeformParams(), np.random.default_rng(0), control)
        except Cancelled:
            out.append(control.reaction_s)
    return out


def slice_reactions(run: Path, folder: Path, at_slices) -> list[float]:
    out = []
    for at in at_slices:
        control, armed = TimedControl(), []

        def on_event(event, at=at, control=control, armed=armed):
            if isinstance(event, Progress) and f": slice {at} of" in event.message and not armed:
                armed.append(1)  # stop from another thread while the next batch of slices is drawn
                threading.Timer(0.05, control.stop).start()

        with tempfile.TemporaryDirectory() as tmp:
            config = GenerateConfig(
                run=run,
                count=1,
                label_source="folder",
                label_folder=folder,
                gallery=Path(tmp) / "g",
                device="cpu",
            )
            generate_volumes(config, on_event, control)
        out.append(control.reaction_s)
    return out


def write_figures(tmp: Path, delays) -> tuple[float, list[float]]:
    rng = np.random.default_rng(0)
    image = sitk.GetImageFromArray(rng.normal(0, 300, (200, 512, 512)).astype(np.float32))
    label = sitk.GetImageFromArray(np.zeros((200, 512, 512), np.uint8))
    gallery = Gallery(tmp / "g")
    t = time.perf_counter()
    gallery.add(image, label, {})
    whole = time.perf_counter() - t
    out = []
    for delay in delays:
        control = TimedControl()
        after(delay, control)
        try:
            gallery.add(image, label, {}, control)
        except Cancelled:
            out.append(control.reaction_s)
    return whole, out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="a trained run (default: train a tiny one)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = args.run
        if run is None:
            from engine.training.trainer import train
            from tests.engine.training_helpers import tiny_config

            run = tmp / "run"
            train(tiny_config(run, iterations=3))
        values = TrainingRun(run).read_label_table().values
        spacing = float(read_run_record(TrainingRun(run))["spacing_mm"])
        (tmp / "maps").mkdir()
        sitk.WriteImage(ct_label_map(values, spacing=spacing), str(tmp / "maps" / "ct_map.nii.gz"))
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
        r = deform_reactions([0.3, 1.0, 2.5, 5.0])
        print(
            f"deforming a 512x512x200 label map: reaction {max(r):.2f} s at most ({', '.join(f'{v:.2f}' for v in r)})"
        )
        r = slice_reactions(run, tmp / "maps", [3, 40, 120])
        print(
            f"drawing slices of a 512x512x160 map: reaction {max(r):.2f} s at most ({', '.join(f'{v:.2f}' for v in r)})"
        )
        whole, r = write_figures(tmp, [0.1, 0.6, 1.2])
        print(
            f"writing a 512x512x200 float32 sample to the gallery: {whole:.2f} s; "
            f"reaction {max(r):.2f} s at most ({', '.join(f'{v:.2f}' for v in r)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
