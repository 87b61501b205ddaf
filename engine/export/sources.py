"""ExportCases from the places cases live: the gallery (synthetic) and the run's real training data,
and the manifest's run block.

What reaches an export's manifest is chosen here, field by field: the label source and its numeric
parameters, the seed, the checkpoint hash. Never a path (folder names often carry patient names or
IDs) and never a source case id: source cases appear only as the run's pseudonyms
(``Release.pseudonym``), which link the cases of one run without naming anyone.
"""

from __future__ import annotations

import SimpleITK as sitk

from engine.data.geometry import fresh_image
from engine.data.loading import load_case
from engine.data.scan import discover
from engine.export.config import ExportCase
from engine.release import Release
from engine.synthesis.gallery import GalleryItem
from engine.training.run_folder import TrainingRun

_DROPPED_KEYS = ("from_case", "file", "source_case")


def _numbers_only(value):
    """Keep numbers, booleans and plain-word strings; drop anything that could be a name or path."""
    if isinstance(value, dict):
        return {k: _numbers_only(v) for k, v in value.items() if k not in _DROPPED_KEYS}
    if isinstance(value, list):
        return [_numbers_only(v) for v in value]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return value if isinstance(value, str) and value.isidentifier() and len(value) <= 32 else None


def export_meta(meta: dict, release: Release) -> dict:
    """The manifest entry of a gallery sample: how it was made, never where its map came from."""
    source = meta.get("label_source") or {}
    return {
        "label_source": {
            "kind": source.get("kind"),
            "params": _numbers_only(source.get("params") or {}),
            "placed": _numbers_only(source.get("placed") or []),
            "source_case_pseudonym": release.pseudonym(source.get("source_case") or meta.get("source_case")),
        },
        "image_from": meta.get("image_from") or "generator",
        "seed": meta.get("seed"),
        "checkpoint_sha256": meta.get("checkpoint_sha256"),
        "checkpoint_iteration": meta.get("checkpoint_iteration"),
        "synthvol_version": meta.get("synthvol_version"),
        "created": meta.get("created"),
    }


def gallery_export_cases(items: list[GalleryItem], release: Release) -> list[ExportCase]:
    return [ExportCase(item.id, item.modality, item.load, export_meta(item.meta, release), True) for item in items]


def real_export_cases(run: TrainingRun, release: Release) -> list[ExportCase]:
    """The run's real training cases (for a mixed nnU-Net set), loaded lazily, renumbered so no
    original case id (often a patient folder name) reaches the export."""
    manifest = run.read_manifest()
    modality = run.read_normalization().modality
    scan = discover(run.dataset_folder(), verify=False)
    out = []
    for n, case_id in enumerate(manifest["split"]["train_cases"], start=1):
        try:
            case = scan.case(case_id)
        except KeyError:
            continue

        def load(case=case) -> tuple[sitk.Image, sitk.Image]:
            loaded = load_case(case)
            image = fresh_image(sitk.GetArrayFromImage(loaded.image), loaded.image)
            label = fresh_image(sitk.GetArrayFromImage(loaded.label), loaded.image)
            return image, label

        meta = {"source": "real training case", "case_pseudonym": release.pseudonym(case_id)}
        out.append(ExportCase(f"{n:04d}", modality, load, meta, False))
    return out


def run_block(run: TrainingRun, items: list[GalleryItem], release: Release) -> dict:
    """The manifest's ``run_info``: the run (by its anonymous id) and the generator that made the
    samples, as the first sample recorded it."""
    first = items[0].meta if items else {}
    record = run.read_config()
    return {
        "run_id": release.run_id,
        "checkpoint": first.get("checkpoint"),
        "checkpoint_iteration": first.get("checkpoint_iteration"),
        "checkpoint_sha256": first.get("checkpoint_sha256"),
        "modality": first.get("modality") or record.get("modality"),
        "model": (record.get("model") or {}).get("arch"),
    }
