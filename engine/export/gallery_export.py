"""export_gallery: the one engine call that exports samples of a run (the CLI's ``generate`` and the
window's Export both make it).

It builds what every export of a run shares, once: the release policy of the run (pseudonyms,
what may leave), the ExportCases of the samples (and of the real training cases for a mixed
nnU-Net set), the manifest's run block, and the quality report (read from the run's quality
folder, or a report the caller names). Work in progress stays in the run's ``work/`` folder, and
what a killed export left there is removed first.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from engine.data.synthvol_exports import check_export_target, run_dataset_folders
from engine.events import Control, EventCallback, Log, ignore_events
from engine.export.config import ExportConfig, ExportResult
from engine.export.exporter import export_dataset
from engine.export.sources import gallery_export_cases, real_export_cases, run_block
from engine.release import Release
from engine.synthesis.gallery import GalleryItem
from engine.training.run_folder import TrainingRun

log = logging.getLogger(__name__)


def quality_report_of(run: TrainingRun) -> Path | None:
    """The run's own quality report (what the window's Check quality writes), if there is one."""
    from engine.evaluation.schema import REPORT_FILE

    path = run.quality_dir / REPORT_FILE
    return path if path.is_file() else None


def export_gallery(
    config: ExportConfig,
    run: TrainingRun | Path,
    items: Sequence[GalleryItem],
    with_real: bool = False,
    on_event: EventCallback = ignore_events,
    control: Control | None = None,
    quality_report: Path | None = None,
) -> ExportResult:
    """Export the gallery ``items`` of ``run`` (and with ``with_real`` the run's real training
    cases into the nnU-Net set). ``quality_report``: a report.json (or its folder) to put into
    manifest.json; by default the run's own report when it has one."""
    run = run if isinstance(run, TrainingRun) else TrainingRun(Path(run))
    check_export_target(config.out_dir, run_dataset_folders(run))  # never into the training data
    for stale in run.remove_stale_work():
        log.info("removed unfinished work of a stopped process: %s", stale.name)
    release = Release.of(run)
    report_path, quality = _quality(run, quality_report, on_event)
    cases = gallery_export_cases(list(items), release)
    real = real_export_cases(run, release) if with_real else []
    work = run.new_work_folder("export")
    try:
        result = export_dataset(
            config,
            cases,
            run.read_label_table(),
            on_event,
            control,
            real_cases=real,
            run_info=run_block(run, list(items), release),
            quality=quality,
            release=release,
            work_dir=work,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.quality_report = report_path
    return result


def _quality(
    run: TrainingRun, named: Path | None, on_event: EventCallback
) -> tuple[Path | None, dict | None]:
    """The report for manifest.json: the one named (it must be sound), else the run's own if it is."""
    from engine.errors import EvaluationError
    from engine.evaluation.schema import read_quality_report

    if named is not None:
        path, quality = named, read_quality_report(named)
    else:
        path = quality_report_of(run)
        try:
            quality = read_quality_report(path) if path is not None else None
        except EvaluationError as exc:
            on_event(Log("warning", f"The run's quality report is left out of manifest.json: {exc}"))
            return None, None
    if quality is not None:
        on_event(Log("info", f"Quality report included in manifest.json: {path}"))
    return (path if quality is not None else None), quality
