"""ExportCases from the places cases live: the gallery (synthetic) and the run's real training data."""

from __future__ import annotations

import re
from pathlib import Path

import SimpleITK as sitk

from engine.data.loading import load_case
from engine.data.scan import discover
from engine.export.config import ExportCase
from engine.synthesis.gallery import GalleryItem
from engine.synthesis.synthesizer import Synthesizer, fresh_image
from engine.training.run_folder import TrainingRun


def gallery_export_cases(items: list[GalleryItem]) -> list[ExportCase]:
    return [ExportCase(item.id, item.modality, item.load, dict(item.meta), True) for item in items]


def _safe(case_id: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("._-")
    return s or "case"


def real_export_cases(run: TrainingRun) -> list[ExportCase]:
    """The run's real training cases (for a mixed nnU-Net set), loaded lazily."""
    manifest = run.read_manifest()
    modality = run.read_normalization().modality
    scan = discover(Path(manifest["dataset"]), verify=False)
    out = []
    for case_id in manifest["split"]["train_cases"]:
        try:
            case = scan.case(case_id)
        except KeyError:
            continue

        def load(case=case) -> tuple[sitk.Image, sitk.Image]:
            loaded = load_case(case)
            image = fresh_image(sitk.GetArrayFromImage(loaded.image), loaded.image)
            label = fresh_image(sitk.GetArrayFromImage(loaded.label), loaded.image)
            return image, label

        out.append(ExportCase(_safe(case_id), modality, load, {"source": "real training case", "case": case_id}, False))
    return out


def run_info(synth: Synthesizer) -> dict:
    return {
        "run": str(synth.run.folder.resolve()),
        "checkpoint": synth.checkpoint.name,
        "checkpoint_iteration": synth.checkpoint_iteration,
        "checkpoint_sha256": synth.checkpoint_sha256,
        "modality": synth.modality,
    }
