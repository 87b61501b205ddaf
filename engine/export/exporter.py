"""export_dataset: every case in every format, written atomically into ``config.out_dir``."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.data.labels import LabelTable
from engine.errors import ExportError, SynthVolError
from engine.events import Control, EventCallback, Finished, Progress, ignore_events
from engine.export import manifest, nnunet
from engine.export.atomic import AtomicFolder
from engine.export.case_writer import ExportPlan, write_case
from engine.export.config import ExportCase, ExportConfig, ExportResult
from engine.export.dicom_header import Provenance
from engine.export.progress import ExportProgress
from engine.export.selection import CaseSelection, select_cases
from engine.export.uids import new_batch_id
from engine.release import Release
from engine.synthesis.augmentation import AUGMENTED_REAL

_PLAIN_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9 _-]{0,31}$")  # a label source name, never a path


@dataclass
class _Job:
    config: ExportConfig
    selection: CaseSelection
    table: LabelTable
    prov: Provenance
    batch: str
    run_info: dict
    quality: dict | None
    release: Release | None = None


def export_dataset(
    config: ExportConfig,
    cases: Sequence[ExportCase],
    label_table: LabelTable,
    on_event: EventCallback = ignore_events,
    control: Control | None = None,
    real_cases: Sequence[ExportCase] = (),
    run_info: dict | None = None,
    quality: dict | None = None,
    release: Release | None = None,
    work_dir: Path | None = None,
) -> ExportResult:
    """Export ``cases`` (synthetic) and, into the nnU-Net set only, ``real_cases``.

    Writes into a temporary folder (in ``work_dir`` when given, else ``OUT.partial-<random>``) and
    renames it to ``config.out_dir`` when complete; on Cancelled or any error the temporary folder
    is removed and ``out_dir`` is left as it was. With ``release`` (an export of a run, see
    ``export_gallery``) the label names and manifest.json pass through the run's release policy.
    """
    started = time.perf_counter()
    config.validate()
    selection = select_cases(config, cases, real_cases)
    if release is not None:
        label_table = release.label_table(label_table)
    run_info = dict(run_info or {})
    prov = Provenance(
        checkpoint_id=str(run_info.get("checkpoint_sha256") or ""),
        label_source=_plain_word(selection.synthetic[0].meta.get("label_source")),
    )
    job = _Job(config, selection, _working_table(label_table), prov, new_batch_id(), run_info, quality, release)
    n_cases = len(selection.synthetic) + len(selection.real)
    progress = ExportProgress(on_event, control, n_cases, extra_files=2 + int("nnunet" in config.formats))
    progress.info(f"Exporting {len(selection.synthetic)} synthetic case(s) to {config.out_dir}.")
    if real_cases and "nnunet" not in config.formats:
        progress.warning("Real cases were given but nnU-Net is not an export format; they are not exported.")

    folder = AtomicFolder(Path(config.out_dir), config.overwrite, work_dir)
    try:
        with folder as root:
            _write_into(root, folder.final, job, progress)
            n_files, n_bytes = _count(root)
            progress.check()
            final = folder.commit()
    except OSError as exc:
        raise ExportError(
            f"Cannot write the export {config.out_dir}: {exc}. Check free space and permissions."
        ) from exc
    result = ExportResult(
        final, n_cases, n_files, n_bytes, time.perf_counter() - started, final / manifest.MANIFEST
    )
    on_event(Progress(progress.done, progress.done, "Export complete"))
    progress.info(
        f"Exported {n_cases} case(s), {n_files} files, {n_bytes / 1e6:.1f} MB in {result.seconds:.1f} s."
    )
    on_event(Finished(result))
    return result


def _write_into(root: Path, final: Path, job: _Job, progress: ExportProgress) -> None:
    config, sel = job.config, job.selection
    nnunet_dir = root / "nnUNet_raw" / config.nnunet_dataset if "nnunet" in config.formats else None
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(2, os.cpu_count() or 1)), thread_name_prefix="nifti-gzip"
    )
    plan = ExportPlan(
        root, tuple(config.formats), config.seg_type, job.table, job.prov, job.batch, nnunet_dir, pool
    )
    entries: list[dict[str, Any]] = []
    try:
        for number, case in enumerate(sel.synthetic + sel.real, start=1):
            entries.append(
                _guarded(case, lambda c=case, n=number: write_case(plan, c, n, sel.nnunet_id(c), progress))
            )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    nnunet_info = None
    if nnunet_dir is not None:
        n_syn = len(sel.nnunet_synthetic)
        data = nnunet.dataset_json(
            job.table, sel.nnunet_modality, n_syn + len(sel.real), config.nnunet_dataset, len(sel.real)
        )
        nnunet.write_dataset_json(nnunet_dir, data)
        progress.file_written("nnU-Net dataset.json")
        nnunet_info = {
            "dataset": config.nnunet_dataset,
            "folder": f"nnUNet_raw/{config.nnunet_dataset}",
            "n_synthetic": n_syn,
            "n_real": len(sel.real),
            "labels": data["labels"],
            "mix_synthetic_per_real": config.mix_synthetic_per_real,
        }
    n_augmented = sum(c.meta.get("image_from") == AUGMENTED_REAL for c in sel.synthetic)
    readme = manifest.readme_text(job.prov, len(sel.synthetic), len(sel.real), tuple(config.formats), n_augmented)
    manifest.write_readme(root, readme)
    progress.file_written(manifest.README)
    doc = manifest.build_manifest(
        prov=job.prov,
        batch=job.batch,
        config={**config.to_json(), "out_dir": str(final) if job.release is None else final.name},
        table=job.table,
        cases=entries,
        run_info=job.run_info,
        quality=job.quality,
        nnunet=nnunet_info,
    )
    if job.release is not None:
        doc = job.release.document(doc)
    manifest.write_manifest(root, doc)
    progress.file_written(manifest.MANIFEST)


def _guarded(case: ExportCase, write):
    """Run one case's export; unexpected errors become an ExportError naming the case."""
    try:
        return write()
    except SynthVolError:
        raise
    except OSError as exc:
        raise ExportError(
            f"Case {case.case_id}: cannot write the export ({exc}). Check free disk space and permissions."
        ) from exc
    except Exception as exc:
        raise ExportError(f"Case {case.case_id}: export failed ({type(exc).__name__}: {exc}).") from exc


def _working_table(label_table: LabelTable) -> LabelTable:
    """A copy of the caller's table that always names 0 (background)."""
    table = LabelTable(dict(label_table.entries))
    if 0 not in table.entries:
        table.add(0, "background")
    return table


def _plain_word(value: Any) -> str:
    return value if isinstance(value, str) and _PLAIN_WORD.match(value) else ""


def _count(root: Path) -> tuple[int, int]:
    n_files = n_bytes = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            n_files += 1
            n_bytes += os.path.getsize(os.path.join(dirpath, name))
    return n_files, n_bytes
