"""The real slices a quality report compares against, on the run's own training grid.

Cases are prepared exactly as training prepares them (oriented so slices are axial, resampled
in-plane to the run's spacing, normalised to [-1, 1], through the same cache), and every slice is
taken whole, padded to one size (the largest slice, rounded up to the generator's size multiple). Two sets of slices:

- training slices: the run's training cases (for a single-case run, the slices outside the
  held-out block and its context margin), used as the memorisation reference and to train the
  real-data segmenter;
- held-out slices: the run's validation cases (patient-level split) or its held-out block of
  slices (single-case split). With ``data`` set to another dataset, every case of that dataset is
  held out.

Only slices that hold at least one foreground label are used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.data.cache import CachedVolume, PreprocessParams, prepare_cases, resolve_spacing
from engine.data.labels import LabelTable
from engine.data.normalization import IntensityNormalization
from engine.data.scan import discover
from engine.data.slices import crop_or_pad, label_context, one_hot, padded_size
from engine.data.split import DataSplit, training_slices, validation_slices
from engine.errors import DataError, EvaluationError
from engine.events import Control, EventCallback, ignore_events
from engine.models.config import ModelConfig
from engine.training.run_folder import TrainingRun

log = logging.getLogger(__name__)


@dataclass
class EvaluationData:
    volumes: list[CachedVolume]
    train_rows: np.ndarray  # (N, 2): volume index, z  (foreground slices of the training split)
    heldout_rows: np.ndarray  # (M, 2)
    slice_shape: tuple[int, int]  # whole slices, padded to this (the generator's size multiple)
    context_slices: int
    label_table: LabelTable
    normalization: IntensityNormalization
    split_mode: str  # "cases" | "slice_block" | "other_dataset"
    description: str = ""
    heldout_cases: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return self.label_table.num_classes

    def _arrays(self, v: int, opened: dict) -> tuple[np.ndarray, np.ndarray]:
        """The volume's memory maps, opened for one call only (``opened``) so the pages read go
        back to the OS page cache instead of piling up in this process."""
        if v not in opened:
            opened[v] = (self.volumes[v].image(), self.volumes[v].label())
        return opened[v]

    def slices(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whole images (N, H, W) float32 in [-1, 1] and classes (N, H, W) uint8, padded to ``slice_shape``."""
        s = self.slice_shape
        images = np.empty((len(rows), *s), np.float32)
        classes = np.empty((len(rows), *s), np.uint8)
        opened: dict = {}
        for i, (v, z) in enumerate(np.asarray(rows).reshape(-1, 2)):
            image, label = self._arrays(int(v), opened)
            img, lab = crop_or_pad(
                [np.asarray(image[z], np.float32), np.asarray(label[z])], s, None, [-1.0, 0]
            )
            images[i], classes[i] = img, lab
        return images, classes

    def contexts(self, rows: np.ndarray) -> np.ndarray:
        """One-hot 2.5-D label contexts (N, classes * (2k+1), S, S) float32, as the generator takes them."""
        out, opened = [], {}
        for v, z in np.asarray(rows).reshape(-1, 2):
            _, label = self._arrays(int(v), opened)
            out.append(self.label_contexts(label, [z]))
        return np.concatenate(out) if out else self.label_contexts(np.zeros((1, 1, 1), np.uint8), [])

    def label_contexts(self, label: np.ndarray, zs) -> np.ndarray:
        """The contexts of slices ``zs`` of any label volume (z, y, x) of class indices on this grid."""
        out = []
        for z in zs:
            ctx = label_context(label, int(z), self.context_slices)
            (ctx,) = crop_or_pad([ctx], self.slice_shape, None, [0])
            out.append(one_hot(np.ascontiguousarray(ctx), self.num_classes))
        shape = (0, self.num_classes * (2 * self.context_slices + 1), *self.slice_shape)
        return np.stack(out) if out else np.zeros(shape, np.float32)

    def label_slices(self, label: np.ndarray, zs) -> np.ndarray:
        """Class maps (N, S, S) uint8 of slices ``zs`` of a label volume, centre-cropped/padded."""
        out = np.empty((len(zs), *self.slice_shape), np.uint8)
        for i, z in enumerate(zs):
            (out[i],) = crop_or_pad([np.asarray(label[int(z)])], self.slice_shape, None, [0])
        return out

    def neighbours(self, row: np.ndarray, count: int) -> np.ndarray:
        """``count`` consecutive slices of the same volume around ``row`` (rows, clipped to the volume)."""
        v, z = (int(x) for x in row)
        depth = self.volumes[v].shape[0]
        count = min(count, depth)
        start = int(np.clip(z - count // 2, 0, depth - count))
        return np.array([(v, start + i) for i in range(count)], dtype=np.int64)

    def case_of(self, rows: np.ndarray) -> list[str]:
        return [self.volumes[int(v)].case_id for v, _ in np.asarray(rows).reshape(-1, 2)]

    def units_range(self, rows: np.ndarray) -> np.ndarray:
        """(N, P) each slice's case's intensity-map parameters: [-1, 1] maps back to HU / MR units with them."""
        return np.array([self.volumes[int(v)].norm for v, _ in np.asarray(rows).reshape(-1, 2)], np.float64)

    def to_units(self, x: np.ndarray, ranges: np.ndarray) -> np.ndarray:
        """Normalised slices (N, H, W) -> HU / MR units with one parameter row per slice (the
        run's own inverse map: piecewise linear for CT, percentiles and bright tail for MR)."""
        x = np.asarray(x, np.float32)
        out = np.empty(x.shape, np.float32)
        for i in range(len(x)):
            out[i] = self.normalization.inverse(x[i], tuple(ranges[i]))
        return out

    @property
    def synthetic_range(self) -> tuple[float, ...]:
        """The parameters that map synthetic slices back to HU / MR units (what export uses)."""
        return self.normalization.reference

    @property
    def units(self) -> str:
        return "HU" if self.normalization.modality == "CT" else "MR units"


def spread(n_available: int, n_wanted: int) -> np.ndarray:
    """Evenly spread indices (deterministic)."""
    if n_available <= n_wanted:
        return np.arange(n_available)
    return np.unique(np.round(np.linspace(0, n_available - 1, n_wanted)).astype(np.int64))


def _foreground_rows(volumes: list[CachedVolume], per_case: dict[str, np.ndarray]) -> np.ndarray:
    rows = []
    for v, vol in enumerate(volumes):
        for z in per_case.get(vol.case_id, []):
            if vol.presence[int(z), 1:].any():
                rows.append((v, int(z)))
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def _prepare(cases, table, training: dict, spacing_mm: float, modality: str, force: bool, on_event, control):
    from engine.training.config import TrainingConfig
    from engine.training.setup import preprocess_params

    params = preprocess_params(TrainingConfig.from_json(training))  # as training made it: the same cache
    if force or abs(resolve_spacing(cases, params) - spacing_mm) > 1e-6:
        params = PreprocessParams(
            spacing_mode="median", image_size=params.image_size, in_plane_spacing=spacing_mm
        )
    cache_dir = training.get("cache_dir")
    return prepare_cases(
        cases, table, params, Path(cache_dir) if cache_dir else None, modality, on_event, control
    )


def load_evaluation_data(
    run: TrainingRun,
    data: Path | None = None,
    on_event: EventCallback = ignore_events,
    control: Control | None = None,
) -> EvaluationData:
    record = run.read_config()
    training = record["training"]
    table = run.read_label_table()
    norm = run.read_normalization()
    spacing_mm = float(record["spacing_mm"])
    multiple = ModelConfig(**record["model"]).size_multiple
    context = int(record["model"].get("context_slices", training.get("context_slices", 1)))
    manifest = run.read_manifest()
    split = DataSplit.from_json(manifest["split"])
    run_data = Path(manifest["dataset"])
    other = data is not None and Path(data).resolve() != run_data.resolve()
    if not run_data.exists():
        raise EvaluationError(
            f"The run's dataset {run_data} is not there any more. The report needs the training cases (for the "
            "memorisation check and the real-data segmenter); put the dataset back at that path."
        )
    # the run's own settings (not the modality it found), so the training cache is reused as is
    scan = discover(run_data, modality=training.get("modality"), verify=False, control=control)
    wanted = set(split.train_cases) | (set() if other else set(split.val_cases))
    cases = [c for c in scan.usable_cases if c.id in wanted]
    missing = sorted(wanted - {c.id for c in cases})
    if missing:
        raise EvaluationError(
            f"The run's case(s) {', '.join(missing[:5])} cannot be read from {run_data}; the report needs them."
        )
    try:
        prepared = _prepare(
            cases, table, training, spacing_mm, training.get("modality"), False, on_event, control
        )
    except DataError as exc:
        raise EvaluationError(f"The run's cases cannot be prepared: {exc}") from None
    volumes = [v for v in prepared.volumes if v.case_id in wanted]
    shapes = {v.case_id: v.shape[0] for v in volumes}
    train_rows = _foreground_rows(volumes, training_slices(split, shapes, context))
    if other:
        held = _other_dataset(Path(data), table, training, spacing_mm, norm, on_event, control)
        offset = len(volumes)
        held_rows = _foreground_rows(held, {v.case_id: np.arange(v.shape[0]) for v in held})
        held_rows[:, 0] += offset
        volumes = volumes + held
        mode, heldout_cases = "other_dataset", [v.case_id for v in held]
        desc = f"all {len(held)} case(s) of {data} (not used in training)"
    else:
        held_rows = _foreground_rows(volumes, validation_slices(split, shapes))
        mode, heldout_cases = split.mode, list(split.val_cases)
        if split.mode == "slice_block":
            blocks = "; ".join(f"{c}: slices {b[0]}-{b[1] - 1}" for c, b in split.val_block.items())
            desc = f"a held-out block of slices of the single training case ({blocks})"
        else:
            desc = f"{len(split.val_cases)} held-out case(s) of the run's patient-level split"
    if len(train_rows) == 0:
        raise EvaluationError("The run's training cases hold no labelled slice; nothing to compare against.")
    if len(held_rows) == 0:
        raise EvaluationError(
            "The held-out real cases hold no labelled slice; the report needs labelled held-out data."
        )
    return EvaluationData(
        volumes, train_rows, held_rows, padded_size(volumes, multiple), context, table, norm, mode, desc,
        heldout_cases,
    )


def _other_dataset(data: Path, table, training, spacing_mm, norm, on_event, control) -> list[CachedVolume]:
    if not data.exists():
        raise EvaluationError(f"{data}: no such dataset folder.")
    scan = discover(data, modality=norm.modality, verify=True, control=control)
    cases = scan.usable_cases
    if not cases:
        raise EvaluationError(f"{data}: no usable labeled case to evaluate on ({scan.summary()}).")
    for c in cases:
        unknown = sorted(set(c.label_values) - set(table.values))
        if unknown:
            raise EvaluationError(
                f"{c.label}: label value(s) {unknown} are not in the run's label table {table.values}; "
                "evaluate on data labelled like the training data."
            )
    try:
        prepared = _prepare(cases, table, training, spacing_mm, norm.modality, True, on_event, control)
    except DataError as exc:
        raise EvaluationError(f"{data}: the cases cannot be prepared: {exc}") from None
    return list(prepared.volumes)
