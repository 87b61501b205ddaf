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
from engine.data.loading import load_case
from engine.data.scan import discover
from engine.data.volume_io import read_volume
from engine.errors import ConfigError, DataError
from engine.synthesis.deform import DeformParams, deform_label
from engine.synthesis.rebalance import RebalanceParams, extract_regions, insert_regions
from engine.synthesis.synthesizer import fresh_image
from engine.training.run_folder import TrainingRun

SOURCES = ("train", "augment", "rebalance", "folder")


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


def training_label_maps(run: TrainingRun, include_validation: bool = False) -> list[SourceMap]:
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
        try:
            case = scan.case(case_id)
        except KeyError:
            continue
        loaded = load_case(case)
        if loaded.label is None:
            continue
        label = loaded.label
        out.append(SourceMap(case_id, fresh_image(sitk.GetArrayFromImage(label), label), case.image))
    if not out:
        raise DataError(f"None of the run's training cases could be read from {dataset}.")
    return out


def folder_label_maps(folder: Path, known_values: list[int]) -> list[SourceMap]:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder of label maps.")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and volume_extension(p) and not is_hidden_or_junk(p))
    if not files:
        raise DataError(f"{folder}: no label map files (NIfTI, NRRD, MHA) in it.")
    out = []
    for p in files:
        label = read_volume(p)
        values, _ = check_label_values(sitk.GetArrayViewFromImage(label), p)
        unknown = sorted(set(values) - set(known_values))
        if unknown:
            raise DataError(f"{p}: label value(s) {unknown} are not in the run's label table {known_values}.")
        arr = sitk.GetArrayFromImage(label).astype(np.uint16)
        out.append(SourceMap(strip_extensions(p.name), fresh_image(arr, label), None))
    return out


def generate_label_maps(
    kind: str, maps: list[SourceMap], count: int, seed: int,
    deform: DeformParams | None = None, rebalance: RebalanceParams | None = None,
) -> Iterator[LabelMapItem]:
    """``count`` label maps cycling over ``maps``; deterministic for a seed."""
    if kind not in SOURCES:
        raise ConfigError(f"label source {kind!r}: use one of {', '.join(SOURCES)}")
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
            label = deform_label(label, params, rng)
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
