"""An export is all or nothing: stops and errors leave no OUT and no temporary folder; an existing
OUT is refused unless overwriting, and then replaced only once the new export is complete."""

from __future__ import annotations

import json
import re
import threading

import pytest

from engine.errors import Cancelled, ConfigError, ExportError
from engine.events import Control, Progress, StateChanged
from engine.export import ExportCase, ExportConfig, export_dataset
from tests.engine.export_helpers import case, make_volume, table


def _leftovers(parent):
    return sorted(p.name for p in parent.iterdir())


def _cases(n=2):
    return [case(f"syn_{i:04d}", size_xyz=(20, 16, 6), seed=i) for i in range(1, n + 1)]


def test_stop_mid_export_leaves_nothing(tmp_path):
    control = Control()
    seen = []

    def on_event(event):
        seen.append(event)
        if isinstance(event, Progress) and event.done == 14:  # case 1 has 11 files: in case 2
            control.stop()

    with pytest.raises(Cancelled):
        export_dataset(ExportConfig(out_dir=tmp_path / "OUT"), _cases(), table(), on_event, control)
    assert _leftovers(tmp_path) == []
    assert max(e.done for e in seen if isinstance(e, Progress)) == 14  # stopped at that file


def test_error_in_a_later_case_leaves_nothing(tmp_path):
    def broken():
        raise RuntimeError("disk on fire")

    cases = [*_cases(1), ExportCase("syn_0002", "CT", broken, {})]
    with pytest.raises(ExportError, match="syn_0002.*disk on fire"):
        export_dataset(ExportConfig(out_dir=tmp_path / "OUT"), cases, table())
    assert _leftovers(tmp_path) == []


def test_error_while_writing_files_leaves_nothing(tmp_path):
    def on_event(event):
        if isinstance(event, Progress) and event.done == 4:
            raise OSError(28, "No space left on device")

    with pytest.raises(ExportError, match="No space left"):
        export_dataset(ExportConfig(out_dir=tmp_path / "OUT"), _cases(), table(), on_event)
    assert _leftovers(tmp_path) == []


def test_existing_folder_is_refused_without_overwrite(tmp_path):
    out = tmp_path / "OUT"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(ExportError, match=re.escape(str(out))):
        export_dataset(ExportConfig(out_dir=out), _cases(1), table())
    assert _leftovers(out) == ["mine.txt"] and _leftovers(tmp_path) == ["OUT"]
    with pytest.raises(ExportError, match="not a previous SynthVol export"):
        export_dataset(ExportConfig(out_dir=out, overwrite=True), _cases(1), table())
    assert (out / "mine.txt").read_text() == "keep me"


def test_overwrite_replaces_a_previous_export_only_when_complete(tmp_path):
    out = tmp_path / "OUT"
    first = export_dataset(ExportConfig(out_dir=out, formats=("nifti",)), _cases(1), table())
    batch = json.loads(first.manifest_path.read_text())["export"]["batch"]

    control = Control()

    def stop_late(event):
        if isinstance(event, Progress) and event.done == 5:
            control.stop()

    with pytest.raises(Cancelled):
        export_dataset(ExportConfig(out_dir=out, overwrite=True), _cases(), table(), stop_late, control)
    assert json.loads((out / "manifest.json").read_text())["export"]["batch"] == batch  # untouched
    second = export_dataset(ExportConfig(out_dir=out, overwrite=True), _cases(), table())
    manifest = json.loads(second.manifest_path.read_text())
    assert manifest["export"]["batch"] != batch and len(manifest["cases"]) == 2
    assert _leftovers(tmp_path) == ["OUT"]


def test_pause_waits_and_resumes(tmp_path):
    control = Control()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, Progress) and event.done == 3 and not control.paused:
            control.pause()
            threading.Timer(0.2, control.resume).start()

    export_dataset(
        ExportConfig(out_dir=tmp_path / "OUT", formats=("dicom",)), _cases(1), table(), on_event, control
    )
    states = [e.state for e in events if isinstance(e, StateChanged)]
    assert states == ["paused", "running"]


def test_bad_inputs_are_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "OUT"
    with pytest.raises(ExportError, match="nothing to export"):
        export_dataset(ExportConfig(out_dir=out), [], table())
    with pytest.raises(ExportError, match="file names"):
        export_dataset(ExportConfig(out_dir=out), [case("../evil")], table())
    with pytest.raises(ExportError, match="unique"):
        export_dataset(ExportConfig(out_dir=out), [case("a1"), case("a1")], table())
    with pytest.raises(ExportError, match="real"):
        export_dataset(ExportConfig(out_dir=out), [case("a1", synthetic=False)], table())

    def mismatched():
        image, label = make_volume()
        label.SetSpacing((1.0, 1.0, 1.0))
        return image, label

    with pytest.raises(ExportError, match="not on the image grid"):
        export_dataset(ExportConfig(out_dir=out), [ExportCase("a1", "CT", mismatched)], table())
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"formats": ()}, "formats"),
        ({"formats": ("dicom", "png")}, "png"),
        ({"dataset_id": 12}, "500-999"),
        ({"dataset_name": "!!"}, "dataset_name"),
        ({"seg_type": "RTSTRUCT"}, "seg_type"),
        ({"mix_synthetic_per_real": -1.0}, "mix_synthetic_per_real"),
        ({"mix_synthetic_per_real": float("nan")}, "mix_synthetic_per_real"),
        ({"mix_synthetic_per_real": "2"}, "mix_synthetic_per_real"),
    ],
)
def test_config_validation_names_the_setting(tmp_path, changes, message):
    config = ExportConfig(out_dir=tmp_path / "OUT", **changes)
    with pytest.raises(ConfigError, match=message):
        config.validate()


def test_config_round_trips_through_json(tmp_path):
    config = ExportConfig(
        out_dir=tmp_path / "OUT",
        formats=("nifti", "nnunet"),
        dataset_name="Liver",
        dataset_id=777,
        mix_synthetic_per_real=2.0,
        seg_type="LABELMAP",
    )
    again = ExportConfig.from_json(json.loads(json.dumps(config.to_json())))
    assert again == config
    assert again.nnunet_dataset == "Dataset777_Liver"
    with pytest.raises(ConfigError, match="unknown setting"):
        ExportConfig.from_json({"out_dir": "x", "colour": "blue"})
