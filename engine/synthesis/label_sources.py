"""Where new label maps come from: the training maps themselves, deformed ones, rebalanced ones
(more of a rare label), or a folder the user supplies. Each map says where it came from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from engine.data.content_checks import check_label_values
from engine.data.formats import is_hidden_or_junk, strip_extensions, volume_extension
from engine.data.geometry import fresh_image
from engine.data.label_coverage import labelled_slices
from engine.data.labels import LabelTable
from engine.data.loading import load_case
from engine.data.scan import discover
from engine.data.volume_io import read_header, read_volume
from engine.errors import ConfigError, DataError
from engine.events import Control, EventCallback, Log, ignore_events
from engine.synthesis.deform import DeformParams, deform_label
from engine.synthesis.label_folder_check import check_folder_fit, folder_label_names
from engine.synthesis.rebalance import RebalanceParams, extract_regions, insert_regions
from engine.training.run_folder import TrainingRun

SOURCES = ("train", "augment", "rebalance", "folder", "augmented-real")


@dataclass
class LabelMapItem:
    label: sitk.Image  # stored label values
    source: dict  # kind, its parameters, source case
    source_case: str | None = None
    source_image: Path | None = None  # the real image of the source case (to show side by side)
    extras: dict = field(default_factory=dict)


@dataclass
class SourceMap:
    case_id: str
    label: sitk.Image
    image_path: Path | None
    case: object | None = None  # the CaseRef of a training map (augmented-real reads its image again)


def training_label_maps(run: TrainingRun, include_validation: bool = False,
                        control: Control | None = None) -> list[SourceMap]:
    """The run's training label maps (its patient-level split), read from the dataset again.

    Validation cases stay out unless asked for. A single-case run (its split holds out a block of
    slices, not a patient) gives its whole label map: cutting the block out would leave a map with
    a slab missing, which no generator should be asked to draw.
    """
    manifest = run.read_manifest()
    dataset = Path(manifest["dataset"])
    if not dataset.exists():
        raise DataError(
            f"The run's dataset {dataset} is not there any more; label maps cannot be read from it. "
            "Use a folder of label maps instead."
        )
    split = manifest["split"]
    wanted = list(split["train_cases"]) + (list(split["val_cases"]) if include_validation else [])
    scan = discover(dataset, verify=False)
    out = []
    for case_id in dict.fromkeys(wanted):
        if control is not None:  # a large dataset takes a while to read: Cancel works meanwhile
            control.raise_if_stopped()
        try:
            case = scan.case(case_id)
        except KeyError:
            continue
        loaded = load_case(case)
        if loaded.label is None:
            continue
        label = _covered_part(loaded.label, loaded.coverage)
        if label is None:
            continue
        out.append(SourceMap(case_id, fresh_image(sitk.GetArrayFromImage(label), label), case.image, case))
    if not out:
        raise DataError(f"None of the run's training cases could be read from {dataset}.")
    return out


def _covered_part(label: sitk.Image, coverage: sitk.Image | None) -> sitk.Image | None:
    """The slices a label from another grid covers (its uncovered slices are not background)."""
    if coverage is None:
        return label
    rows = np.flatnonzero(labelled_slices(coverage, label.GetSize()[2]))
    if rows.size == 0:
        return None
    return label[:, :, int(rows[0]) : int(rows[-1]) + 1]


def folder_label_maps(
    folder: Path,
    run_table: LabelTable | list[int],
    accept_differences: bool = False,
    on_event: EventCallback = ignore_events,
) -> list[SourceMap]:
    """The label maps of a folder, checked against the run (label_folder_check): a value the run
    never saw is refused; names that differ from the run's are refused unless ``accept_differences``,
    and then said in a warning."""
    folder = Path(folder)
    table = run_table if isinstance(run_table, LabelTable) else LabelTable.from_names({v: f"label {v}" for v in run_table})
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder of label maps.")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and volume_extension(p) and not is_hidden_or_junk(p))
    if not files:
        raise DataError(f"{folder}: no label map files (NIfTI, NRRD, MHA) in it.")
    out, values_by_file, headers = [], {}, []
    for p in files:
        headers.append(read_header(p).meta)
        label = read_volume(p)
        values, _ = check_label_values(sitk.GetArrayViewFromImage(label), p)
        values_by_file[p.name] = values
        arr = sitk.GetArrayFromImage(label).astype(np.uint16)
        out.append(SourceMap(strip_extensions(p.name), fresh_image(arr, label), None))
    fit = check_folder_fit(folder, values_by_file, folder_label_names(folder, headers), table)
    if fit.refused or (fit.differences and not accept_differences):
        hint = "" if fit.refused else " If they mean the same anyway, accept the differences (--accept-label-differences)."
        raise DataError(fit.message(folder) + hint)
    for text in fit.differences:
        on_event(Log("warning", f"{folder}: used although {text} (accepted)"))
    for text in fit.notes:
        on_event(Log("warning", text))
    return out


def generate_label_maps(
    kind: str, maps: list[SourceMap], count: int, seed: int,
    deform: DeformParams | None = None, rebalance: RebalanceParams | None = None,
    control: Control | None = None,
) -> Iterator[LabelMapItem]:
    """``count`` label maps cycling over ``maps``; deterministic for a seed. ``control`` can stop a
    deformation half-way."""
    if kind not in SOURCES:
        raise ConfigError(f"label source {kind!r}: use one of {', '.join(SOURCES)}")
    if kind == "augmented-real":  # classic augmentation of the real cases: the image comes with the map
        from engine.synthesis.augmentation import augmented_real_items

        yield from augmented_real_items(maps, count, seed)
        return
    regions = []
    if kind == "rebalance":
        if rebalance is None:
            raise ConfigError("rebalance: choose the rare label to add more of.")
        for m in maps:
            regions += extract_regions(sitk.GetArrayViewFromImage(m.label), rebalance.rare_label, m.case_id,
                                       rebalance.min_voxels)
        if not regions:
            raise ConfigError(
                f"Label {rebalance.rare_label} does not occur in the training label maps; choose a label they hold."
            )
    for i in range(count):
        src = maps[i % len(maps)]
        rng = np.random.default_rng([seed, i])
        info = {"kind": kind, "source_case": src.case_id}
        label = src.label
        if kind == "augment":
            params = deform or DeformParams()
            label = deform_label(label, params, rng, control)
            info["params"] = params.to_json()
        elif kind == "rebalance":
            arr = sitk.GetArrayFromImage(label)
            new, placed = insert_regions(arr, regions, rebalance, rng)
            label = fresh_image(new, label)
            info["params"] = rebalance.to_json()
            info["placed"] = placed
        elif kind == "folder":
            info["params"] = {"file": src.case_id}
        yield LabelMapItem(label, info, src.case_id, src.image_path)
