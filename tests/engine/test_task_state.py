"""TaskState, the one progress/stop/pause helper of every long job: the same events everywhere, and
generation honours pause (not only stop)."""

from __future__ import annotations

import threading
import time

import pytest

from engine.errors import Cancelled
from engine.events import Control, Progress, StateChanged, TaskState
from engine.synthesis import GenerateConfig, generate_volumes
from engine.training.trainer import train
from tests.engine.training_helpers import tiny_config


def test_check_pauses_with_state_events_and_stops_with_cancelled():
    events, states = [], []
    control = Control()
    state = TaskState(events.append, control, total=10, on_state=states.append, poll_s=0.01)
    state.progress(3, "working")
    control.pause()
    threading.Timer(0.3, control.resume).start()
    started = time.perf_counter()
    state.check()
    assert time.perf_counter() - started >= 0.25 and state.paused_s >= 0.25
    assert [e.state for e in events if isinstance(e, StateChanged)] == ["paused", "running"] == states
    control.stop()
    with pytest.raises(Cancelled):
        state.check()
    progress = [e for e in events if isinstance(e, Progress)]
    assert (progress[0].done, progress[0].total, progress[0].message) == (3, 10, "working")


def test_a_stop_while_paused_ends_the_pause_without_running_again():
    events = []
    control = Control()
    control.pause()
    state = TaskState(events.append, control, poll_s=0.01)
    threading.Timer(0.1, control.stop).start()
    with pytest.raises(Cancelled):
        state.check()
    assert [e.state for e in events if isinstance(e, StateChanged)] == ["paused"]


def test_flags_replace_how_stop_and_pause_are_read():
    asked = []
    state = TaskState(flags=lambda: asked.append(1) or (True, False))
    with pytest.raises(Cancelled):
        state.check()
    assert asked == [1]


def test_progress_grows_the_total_and_reports_a_rate():
    events = []
    state = TaskState(events.append, total=2)
    state.progress(0)
    time.sleep(0.02)
    state.advance(5, "more than planned")
    last = events[-1]
    assert (last.done, last.total) == (5, 5) and last.rate and last.rate > 0


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("pause") / "run"
    train(tiny_config(run, iterations=3))
    return run


def test_generation_pauses_and_resumes(tiny_run, tmp_path):
    control = Control()
    events = []

    def on_event(event):
        events.append(event)
        if (
            isinstance(event, Progress)
            and "slice" in event.message
            and not control.paused
            and not any(isinstance(e, StateChanged) for e in events)
        ):
            control.pause()
            threading.Timer(0.5, control.resume).start()

    result = generate_volumes(
        GenerateConfig(run=tiny_run, count=1, gallery=tmp_path / "g", device="cpu", batch_size=4),
        on_event,
        control,
    )
    assert [e.state for e in events if isinstance(e, StateChanged)] == ["paused", "running"]
    assert len(result.items) == 1 and not result.stopped
