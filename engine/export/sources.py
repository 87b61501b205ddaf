"""ExportCases from the places cases live: the gallery (synthetic) and the run's real training data.

What reaches an export's manifest is chosen here, field by field: the label source and its numeric
parameters, the seed, the checkpoint hash. Never a path (folder names often carry patient names or
IDs) and never a source case id: source cases appear only as a salted hash that links cases of one
run without naming anyone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import SimpleITK as sitk

from engine.data.loading import load_case
from engine.data.scan import discover
from engine.export.config import ExportCase
from engine.synthesis.gallery import GalleryItem
from engine.synthesis.synthesizer import Synthesizer, fresh_image
from engine.training.run_folder import TrainingRun


def run_id(run: TrainingRun) -> str:
    """A stable, anonymous id of a run: the hash of its config.json."""
    return hashlib.sha256(run.config_path.read_bytes()).hexdigest()[:16]


def pseudonym(case_id: str | None, salt: str) -> str | None:
    if not case_id:
        return None
    return hashlib.sha256(f"{salt}:{case_id}".encode()).hexdigest()[:12]


def _numbers_only(value):
    """Keep numbers, booleans and plain-word strings; drop anything that could be a name or path."""
    if isinstance(value, dict):
        return {k: _numbers_only(v) for k, v in value.items() if k not in ("from_case", "file", "source_case")}
    if isinstance(value, list):
        return [_numbers_only(v) for v in value]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return value if isinstance(value, str) and value.isidentifier() and len(value) <= 32 else None


def export_meta(meta: dict, salt: str) -> dict:
    source = meta.get("label_source") or {}
    return {
        "label_source": {
            "kind": source.get("kind"),
            "params": _numbers_only(source.get("params") or {}),
            "placed": _numbers_only(source.get("placed") or []),
            "source_case_pseudonym": pseudonym(source.get("source_case") or meta.get("source_case"), salt),
        },
        "seed": meta.get("seed"),
        "checkpoint_sha256": meta.get("checkpoint_sha256"),
        "checkpoint_iteration": meta.get("checkpoint_iteration"),
        "synthvol_version": meta.get("synthvol_version"),
        "created": meta.get("created"),
    }


def gallery_export_cases(items: list[GalleryItem], salt: str | None = None) -> list[ExportCase]:
    """Salt defaults to each case's checkpoint hash: pseudonyms link cases of one model only."""
    return [
        ExportCase(item.id, item.modality, item.load,
                   export_meta(item.meta, salt if salt is not None else str(item.meta.get("checkpoint_sha256", ""))), True)
        for item in items
    ]


def real_export_cases(run: TrainingRun) -> list[ExportCase]:
    """The run's real training cases (for a mixed nnU-Net set), loaded lazily, renumbered so no
    original case id (often a patient folder name) reaches the export."""
    manifest = run.read_manifest()
    modality = run.read_normalization().modality
    salt = run_id(run)
    scan = discover(Path(manifest["dataset"]), verify=False)
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

        meta = {"source": "real training case", "case_pseudonym": pseudonym(case_id, salt)}
        out.append(ExportCase(f"{n:04d}", modality, load, meta, False))
    return out


def run_info(synth: Synthesizer) -> dict:
    return {
        "run_id": run_id(synth.run),
        "checkpoint": synth.checkpoint.name,
        "checkpoint_iteration": synth.checkpoint_iteration,
        "checkpoint_sha256": synth.checkpoint_sha256,
        "modality": synth.modality,
        "model": synth.model_cfg.arch,
    }
