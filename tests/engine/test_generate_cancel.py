"""Generation says where it is and stops when asked (issue 14 §5): volume and slice progress with an
ETA, and a Cancel the engine reacts to within 2 s in every phase of a realistic (512 x 512) volume:
deforming its label map, drawing its slices, writing its file.

The figure measured is the engine's reaction: from ``Control.stop()`` to the moment the job sees the
flag and gives up, recorded inside the Control, so a loaded machine's scheduling of the test thread
does not count. 2 s is the issue's requirement, not a benchmark (docs/BENCHMARKS.md has the timings).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import SimpleITK as sitk

from engine.errors import Cancelled
from engine.events import Control, Progress
from engine.synthesis import GenerateConfig, generate_volumes
from engine.synthesis.deform import DeformParams, deform_label
from engine.synthesis.gallery import Gallery
from engine.training.run_folder import TrainingRun
from engine.training.run_record import read_run_record
from engine.training.trainer import train
from tests.engine.training_helpers import tiny_config

pytestmark = pytest.mark.slow
REACTION_S = 2.0


class TimedControl(Control):
    """A Control that records when a stop was asked for and when the job first saw it."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped_at: float | None = None
        self.seen_at: float | None = None

    def stop(self) -> None:
        self.stopped_at = time.perf_counter()
        super().stop()

    def _seen(self) -> bool:
        if self.stop_event.is_set():
            if self.seen_at is None:
                self.seen_at = time.perf_counter()
            return True
        return False

    @property
    def stop_requested(self) -> bool:
        return self._seen()

    def raise_if_stopped(self) -> None:
        if self._seen():
            raise Cancelled("Stopped by the user.")

    @property
    def reaction_s(self) -> float:
        assert self.stopped_at is not None and self.seen_at is not None, "the stop was never seen"
        return self.seen_at - self.stopped_at


def ct_label_map(values, shape=(160, 512, 512), spacing=1.0, seed=0) -> sitk.Image:
    """A CT-sized label map: nested ellipsoids of the run's label values."""
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    arr = np.zeros(shape, np.uint8)
    centre = np.array(shape) / 2
    for k, value in enumerate([v for v in values if v != 0]):
        r = np.array(shape) * (0.45 - 0.08 * k)
        arr[
            ((z - centre[0]) / r[0]) ** 2 + ((y - centre[1]) / r[1]) ** 2 + ((x - centre[2]) / r[2]) ** 2 <= 1
        ] = value
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((spacing, spacing, 2.0))
    return img


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cancel") / "run"
    train(tiny_config(run, iterations=3))
    return run


@pytest.fixture(scope="module")
def big_label_folder(tiny_run, tmp_path_factory):
    """One 512 x 512 x 160 label map at the run's own pixel size (drawn without resampling)."""
    folder = tmp_path_factory.mktemp("maps")
    values = TrainingRun(tiny_run).read_label_table().values
    spacing = float(read_run_record(TrainingRun(tiny_run))["spacing_mm"])
    sitk.WriteImage(ct_label_map(values, spacing=spacing), str(folder / "ct_map.nii.gz"))
    return folder


def test_progress_tells_the_volume_and_slice_with_an_eta(tiny_run, tmp_path):
    events = []
    result = generate_volumes(
        GenerateConfig(run=tiny_run, count=2, gallery=tmp_path / "g", device="cpu"), events.append
    )
    progress = [e for e in events if isinstance(e, Progress)]
    messages = [p.message for p in progress]
    assert any(m.startswith("Volume 1 of 2: slice ") for m in messages)
    assert any(m.startswith("Volume 2 of 2: slice ") for m in messages)
    assert "Volume 2 of 2: saving it" in messages
    done = [p.done for p in progress]
    assert done == sorted(done) and done[-1] == progress[-1].total  # steadily to the end
    first_volume = [p for p in progress if p.message.startswith("Volume 1 of 2: slice")]
    assert any(p.eta_s is not None and p.eta_s > 0 for p in first_volume[1:]), (
        "an ETA during the first volume"
    )
    assert len(result.items) == 2


def test_cancel_while_drawing_slices_of_a_512_volume(tiny_run, big_label_folder, tmp_path):
    control, armed = TimedControl(), []

    def on_event(event):
        if (
            isinstance(event, Progress)
            and event.message.startswith("Volume 1 of 1: slice 3 of")
            and not armed
        ):
            armed.append(1)  # stop from another thread while the next batch of slices is drawn
            threading.Timer(0.05, control.stop).start()

    config = GenerateConfig(
        run=tiny_run,
        count=1,
        label_source="folder",
        label_folder=big_label_folder,
        gallery=tmp_path / "g",
        device="cpu",
    )
    result = generate_volumes(config, on_event, control)
    assert result.stopped and not result.items
    assert control.reaction_s < REACTION_S, f"the slices went on for {control.reaction_s:.2f} s after Cancel"
    assert not list((tmp_path / "g").glob("*")), "nothing half-made is left in the gallery"


def test_cancel_while_deforming_a_512_label_map():
    label = ct_label_map([0, 1, 2, 3], shape=(200, 512, 512))
    control = TimedControl()
    threading.Timer(1.0, control.stop).start()  # the slab loop is under way by then
    with pytest.raises(Cancelled):
        deform_label(label, DeformParams(), np.random.default_rng(0), control)
    assert control.reaction_s < REACTION_S, (
        f"the deformation went on for {control.reaction_s:.2f} s after Cancel"
    )


def test_cancel_while_writing_a_512_volume(tmp_path):
    rng = np.random.default_rng(0)
    image = sitk.GetImageFromArray(rng.normal(0, 300, (200, 512, 512)).astype(np.float32))
    label = sitk.GetImageFromArray(np.zeros((200, 512, 512), np.uint8))
    gallery = Gallery(tmp_path / "g")
    control = TimedControl()
    started = threading.Event()
    original = control.raise_if_stopped

    def first_chunk_starts_the_clock():
        started.set()
        original()

    control.raise_if_stopped = first_chunk_starts_the_clock  # the deflate has begun: stop now
    threading.Thread(target=lambda: started.wait(60) and control.stop(), daemon=True).start()
    with pytest.raises(Cancelled):
        gallery.add(image, label, {"modality": "CT"}, control)
    assert control.reaction_s < REACTION_S, (
        f"the file went on being written {control.reaction_s:.2f} s after Cancel"
    )
    assert not gallery.items() and not list((tmp_path / "g").glob(".*partial")), "no half-written sample left"
