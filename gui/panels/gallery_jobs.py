"""The Gallery panel's background jobs, in the engine-contract shape the worker runs
(``fn(*args, on_event=..., control=...)``). Each calls the engine and returns plain data for the
GUI thread: thumbnails (one axial slice each), the two sides of a comparison, an export result, a
quality report. No Qt here; nothing touches a widget; where a run keeps things is TrainingRun's
business (gallery_dir, quality_dir).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.cases import ScanResult
from engine.data.scan import discover
from engine.data.viewing import ViewVolume, load_files_for_view, load_for_view
from engine.errors import EvaluationError, ExportError
from engine.events import Control, Progress, ignore_events
from engine.export import ExportConfig, ExportResult, export_gallery
from engine.synthesis import Gallery, GalleryItem, GenerateConfig, GenerateResult, generate_volumes
from engine.training.run_folder import TrainingRun
from gui.widgets.slice_geometry import layout_for

CT_THUMBNAIL_WINDOW = (40.0, 400.0)  # soft tissue (center, width); MR is stretched to percentiles
SOURCE_NAMES = {"train": "training map", "augment": "deformed map", "rebalance": "rebalanced map", "folder": "your label map"}
SOURCE_SHORT = {"train": "training", "augment": "deformed", "rebalance": "rebalanced", "folder": "folder"}


def gallery_of(run: Path) -> Gallery:
    return Gallery(TrainingRun(Path(run)).gallery_dir)


def source_kind(item: GalleryItem) -> str:
    source = item.meta.get("label_source")
    return str(source.get("kind", "")) if isinstance(source, dict) else str(source or "")


def describe_source(item: GalleryItem) -> str:
    """``deformed map of case_007`` / ``your label map brain_03``."""
    kind = source_kind(item)
    case = item.meta.get("source_case") or "?"
    return f"{SOURCE_NAMES.get(kind, kind or 'label map')} · {case}"


# ---------------------------------------------------------------------------- thumbnails
@dataclass
class Thumbnail:
    item_id: str
    image: np.ndarray  # one axial slice as drawn on screen (rows top to bottom)
    label: np.ndarray | None
    pixel_aspect: float  # row spacing / column spacing
    window: tuple[float, float] | None
    caption: str
    tooltip: str


def make_thumbnail(item: GalleryItem) -> Thumbnail:
    view = load_files_for_view(item.image_path, item.label_path, item.modality, item.id)
    direction = np.asarray(view.direction, dtype=float).reshape(3, 3) if len(view.direction) == 9 else None
    layout = layout_for("axial", view.spacing, direction)
    middle = view.image.shape[layout.slice_axis] // 2
    image = layout.extract(view.image, middle)
    label = layout.extract(view.label, middle) if view.label is not None else None
    seed = item.meta.get("seed")
    tooltip = "\n".join(
        line
        for line in (
            f"{item.id}: synthetic {item.modality}",
            f"Label map: {describe_source(item)}",
            f"Seed: {seed}" if seed is not None else "",
            f"Generator: {item.meta.get('checkpoint', '?')} (iteration {item.meta.get('checkpoint_iteration', '?')})",
            f"Created: {item.meta.get('created', '?')}",
            "Click to compare with its real source; tick the box to select it for export.",
        )
        if line
    )
    return Thumbnail(
        item.id,
        image,
        label,
        layout.row_spacing / layout.col_spacing,
        CT_THUMBNAIL_WINDOW if item.modality == "CT" else None,
        f"{item.id} · {SOURCE_SHORT.get(source_kind(item), 'map')}\n{item.meta.get('source_case') or ''}",
        tooltip,
    )


def unreadable_thumbnail(item: GalleryItem, exc: Exception) -> Thumbnail:
    """A dark tile saying why: one damaged sample never hides the rest of the gallery."""
    return Thumbnail(item.id, np.zeros((8, 8), np.float32), None, 1.0, (0.0, 1.0), f"{item.id}\n(unreadable)",
                     f"{item.id} cannot be read: {exc}")


def thumbnails_for(items: list[GalleryItem], on_event=ignore_events, control: Control | None = None) -> list[Thumbnail]:
    out = []
    for i, item in enumerate(items):
        if control is not None:
            control.raise_if_stopped()
        on_event(Progress(i, len(items), f"Thumbnail {item.id}"))
        try:
            out.append(make_thumbnail(item))
        except Exception as exc:  # a damaged or half-deleted sample: shown as such
            out.append(unreadable_thumbnail(item, exc))
    return out


@dataclass
class GalleryContents:
    run: Path
    items: list[GalleryItem]
    thumbnails: list[Thumbnail]


def load_gallery(run: Path, on_event=ignore_events, control: Control | None = None) -> GalleryContents:
    """Every item of the run's gallery with its thumbnail."""
    items = gallery_of(run).items()
    return GalleryContents(Path(run), items, thumbnails_for(items, on_event, control))


@dataclass
class GenerationOutcome:
    result: GenerateResult
    thumbnails: list[Thumbnail]


def generate_with_thumbnails(config: GenerateConfig, on_event=ignore_events, control: Control | None = None) -> GenerationOutcome:
    """generate_volumes, then the thumbnails of what it made (also after a Cancel: the volumes
    finished before it are complete gallery items)."""
    result = generate_volumes(config, on_event, control)
    return GenerationOutcome(result, thumbnails_for(result.items, on_event))


# ---------------------------------------------------------------------------- comparison
@dataclass
class Comparison:
    item_id: str
    folder: Path  # the sample's folder (ids repeat across runs)
    synthetic: ViewVolume
    real: ViewVolume | None
    real_caption: str  # "Real source: case_007" or why there is none
    scan: ScanResult | None  # the run's dataset, scanned once and kept by the panel


def load_comparison(
    item: GalleryItem, dataset: Path | None, scan: ScanResult | None, on_event=ignore_events, control: Control | None = None
) -> Comparison:
    """The synthetic volume with its label map, and the real case its label map came from."""
    synthetic = load_files_for_view(item.image_path, item.label_path, item.modality, item.id)
    kind, case_id = source_kind(item), item.meta.get("source_case")
    if kind == "folder" or not case_id:
        note = f"No real case: this label map came from your folder ({case_id or 'a file'})."
        return Comparison(item.id, item.folder, synthetic, None, note, scan)
    if dataset is None or not Path(dataset).exists():
        note = f"Real source {case_id}: the run's dataset {dataset or '(unknown)'} is not there any more."
        return Comparison(item.id, item.folder, synthetic, None, note, scan)
    if scan is None:
        on_event(Progress(0, 1, f"Finding {case_id} in {dataset}"))
        scan = discover(Path(dataset), verify=False, control=control)
    try:
        case = scan.case(case_id)
    except KeyError:
        return Comparison(item.id, item.folder, synthetic, None, f"Real source {case_id}: not found in {dataset}.", scan)
    real = load_for_view(case)
    return Comparison(item.id, item.folder, synthetic, real, real_caption(kind, case_id), scan)


def real_caption(kind: str, case_id: str) -> str:
    """What the real pane shows: the real scan with its own labels (not the map the sample was
    generated from, when that map was deformed or rebalanced)."""
    before = {"augment": ", before the deformation", "rebalance": ", before the rare label was added"}.get(kind, "")
    return f"Real {case_id} with its own label map{before}"


def synthetic_caption(item: GalleryItem) -> str:
    """What the synthetic pane shows: the generated image over the label map it was drawn from."""
    kind, case = source_kind(item), item.meta.get("source_case") or "?"
    source = item.meta.get("label_source") if isinstance(item.meta.get("label_source"), dict) else {}
    placed = source.get("placed")
    drawn_from = {
        "train": f"{case}'s label map",
        "augment": f"{case}'s label map, deformed",
        "rebalance": (f"{case}'s label map with {len(placed)} rare-label region(s) added" if isinstance(placed, list)
                      else f"{case}'s label map with the rare label added"),
        "folder": f"your label map {case}",
    }.get(kind, f"the label map of {case}")
    return f"Synthetic {item.id} with the map it was drawn from: {drawn_from}"


# ---------------------------------------------------------------------------- export
def export_samples(
    config: ExportConfig,
    run: Path,
    item_ids: list[str],
    with_real: bool,
    on_event=ignore_events,
    control: Control | None = None,
) -> ExportResult:
    """Export the chosen gallery samples through the engine's one export call (the run's own
    quality report goes into manifest.json)."""
    by_id = {item.id: item for item in gallery_of(run).items()}
    missing = [i for i in item_ids if i not in by_id]
    if missing:
        raise ExportError(f"Sample(s) {', '.join(missing[:5])} are no longer in the gallery of {run}.")
    return export_gallery(config, TrainingRun(Path(run)), [by_id[i] for i in item_ids], with_real, on_event, control)


# ---------------------------------------------------------------------------- quality report
def report_folder(run: Path) -> Path:
    return TrainingRun(Path(run)).quality_dir


def run_quality_report(run: Path, settings: dict | None = None, on_event=ignore_events, control: Control | None = None) -> dict:
    """The one place the GUI calls the evaluation engine: write the run's quality report and
    return it (the window's own copy, with the real case names)."""
    from engine.evaluation import EvaluateConfig, evaluate_run

    config = EvaluateConfig(run=Path(run), out=report_folder(run), **(settings or {}))
    return evaluate_run(config, on_event=on_event, control=control)


def read_report(folder: Path) -> dict | None:
    """The checked report of a report folder, or None when there is none (or it is incomplete)."""
    from engine.evaluation import read_quality_report

    try:
        return read_quality_report(folder)
    except EvaluationError:
        return None


def memorisation_flagged(report: dict | None) -> int:
    """How many synthetic slices the report flags as too close to a training slice (0: none)."""
    memo = (report or {}).get("memorization")
    if not isinstance(memo, dict):
        return 0
    flagged = memo.get("flagged", 0)
    if isinstance(flagged, bool):
        return int(flagged)
    if isinstance(flagged, (int, float)):
        return int(flagged)
    return len(flagged) if isinstance(flagged, list) else 0
