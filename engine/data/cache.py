"""The preprocessing cache: each case oriented so slices are axial, resampled in-plane to a common
spacing, normalised, and stored as .npy files read back as memory maps (keyed by the files' hashes
and the preprocessing parameters), so training never holds the dataset in memory."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from engine.data.cache_entry import check_entry
from engine.data.cases import CaseRef
from engine.data.geometry import Geometry
from engine.data.label_coverage import labelled_slices
from engine.data.labels import LabelTable
from engine.data.loading import load_case
from engine.data.normalization import CT_KNOTS, IntensityNormalization, guess_modality
from engine.errors import DataError
from engine.events import Control, EventCallback, Log, Progress, ignore_events

log = logging.getLogger(__name__)
CACHE_VERSION = 2  # 2: piecewise-linear CT map over -1024..3071 HU, MR bright tail kept
COARSEN_AT_LEAST = 1.2


def default_cache_dir() -> Path:
    if os.environ.get("SYNTHVOL_CACHE"):
        return Path(os.environ["SYNTHVOL_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "synthvol"


@dataclass(frozen=True)
class PreprocessParams:
    # "native": the data's own (median) in-plane spacing, coarsened to min_spacing_mm when that is
    # set, by at most max_coarsen (and not at all for less than COARSEN_AT_LEAST: a resample by a
    # few per cent blurs for nothing); "fit" (old runs): coarsened so the median slice fits
    # image_size; "median": the median spacing
    spacing_mode: str = "native"
    image_size: int = 128
    in_plane_spacing: float | None = None  # set to force a spacing (mm)
    ct_knots: tuple[tuple[float, float], ...] = CT_KNOTS
    mr_percentiles: tuple[float, float] = (0.5, 99.5)
    min_spacing_mm: float | None = None
    max_coarsen: float = 2.0


@dataclass
class CachedVolume:
    case_id: str
    folder: Path
    shape: tuple[int, int, int]  # (z, y, x)
    geometry: Geometry  # the cached grid (oriented LPS, resampled in-plane)
    source_geometry: Geometry
    norm: tuple[float, ...]  # the case's intensity-map parameters (IntensityNormalization.fit)
    presence: np.ndarray = field(repr=False)
    digest: str = ""  # sha256 of the source files  # (z, num_classes) bool: which classes each slice holds
    labelled: np.ndarray | None = field(default=None, repr=False)  # (z,) slices the label covers; None: all

    def image(self) -> np.ndarray:
        return np.load(self.folder / "image.npy", mmap_mode="r")

    def label(self) -> np.ndarray:
        return np.load(self.folder / "label.npy", mmap_mode="r")


def file_digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _case_files(case: CaseRef) -> list[Path]:
    files = list(case.image_files) or [case.image]
    return files + ([case.label] if case.label else [])


def in_plane_axes(geometry: Geometry) -> tuple[int, int, int]:
    """Index axes (x-like, y-like, slice) after orienting to LPS: the slice axis is the one most
    aligned with superior-inferior."""
    d = np.abs(np.array(geometry.direction).reshape(3, 3))
    slice_axis = int(np.argmax(d[2, :]))
    others = [a for a in range(3) if a != slice_axis]
    return others[0], others[1], slice_axis


def native_spacing(cases: list[CaseRef]) -> float:
    """The data's own in-plane spacing: the median over cases of each case's finer in-plane spacing."""
    spacings = []
    for c in cases:
        ax, ay, _ = in_plane_axes(c.geometry)
        spacings.append(min(c.geometry.spacing[ax], c.geometry.spacing[ay]))
    return round(float(np.median(spacings)), 4)


def resolve_spacing(cases: list[CaseRef], params: PreprocessParams) -> float:
    if params.in_plane_spacing:
        return float(params.in_plane_spacing)
    spacing = native_spacing(cases)
    if params.spacing_mode == "fit":
        extents = []
        for c in cases:
            ax, ay, _ = in_plane_axes(c.geometry)
            g = c.geometry
            extents.append(max(g.size[ax] * g.spacing[ax], g.size[ay] * g.spacing[ay]))
        spacing = max(spacing, float(np.median(extents)) / params.image_size)
    elif params.spacing_mode == "native" and params.min_spacing_mm and spacing < params.min_spacing_mm:
        factor = min(params.min_spacing_mm / spacing, max(1.0, params.max_coarsen))
        if factor >= COARSEN_AT_LEAST:
            spacing *= factor
    return round(spacing, 4)


def choose_modality(cases: list[CaseRef], override: str | None) -> str | None:
    if override:
        return override.upper()
    found = {c.modality for c in cases if c.modality}
    if len(found) > 1:
        raise DataError(
            f"The dataset mixes modalities ({', '.join(sorted(found))}); train on one modality at a time "
            "(choose one in the settings or split the folder)."
        )
    return found.pop() if found else None


@dataclass
class PreparedData:
    volumes: list[CachedVolume]
    normalization: IntensityNormalization
    spacing: float
    label_table: LabelTable
    notes: list[str] = field(default_factory=list)


def prepare_cases(
    cases: list[CaseRef],
    label_table: LabelTable,
    params: PreprocessParams,
    cache_dir: Path | None = None,
    modality: str | None = None,
    on_event: EventCallback = ignore_events,
    control: Control | None = None,
) -> PreparedData:
    """Load, orient, resample and normalise every usable case into the cache (or reuse it)."""
    usable = [c for c in cases if c.usable]
    if not usable:
        raise DataError("No usable labeled case: every case is unlabeled or has an error (see the scan).")
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    spacing = resolve_spacing(usable, params)
    mod = choose_modality(usable, modality)
    norm = IntensityNormalization(mod or "MR", params.ct_knots, params.mr_percentiles)
    volumes, notes = [], []
    for i, case in enumerate(usable):
        if control is not None:
            control.raise_if_stopped()
        on_event(Progress(i, len(usable), f"Preparing {case.id}"))
        try:
            vol, case_mod = _cached_volume(case, label_table, params, spacing, cache_dir, norm, mod is None,
                                           on_event)
        except DataError as exc:
            notes.append(str(exc))
            on_event(Log("warning", f"Skipped {case.id}: {exc}"))
            continue
        if mod is None:
            mod = case_mod
            norm = IntensityNormalization(mod, params.ct_knots, params.mr_percentiles, dict(norm.cases))
            on_event(Log("info", f"Modality not given by the data; the intensities look like {mod}."))
        norm.cases[case.id] = vol.norm
        volumes.append(vol)
    on_event(Progress(len(usable), len(usable), "Data ready"))
    if not volumes:
        raise DataError("No case could be prepared for training: " + "; ".join(notes))
    return PreparedData(volumes, norm, spacing, label_table, notes)


def _cached_volume(case, label_table, params, spacing, cache_dir, norm, guess,
                   on_event: EventCallback = ignore_events) -> tuple[CachedVolume, str]:
    digest = file_digest(_case_files(case))
    key_src = {
        "v": CACHE_VERSION,
        "files": digest,
        "params": asdict(params),
        "spacing": spacing,
        "labels": label_table.values,
        "modality": None if guess else norm.modality,
    }
    if case.label_resampled:  # entries made before uncovered slices were left out must not be reused
        key_src["label_coverage"] = 1
    key = hashlib.sha256(json.dumps(key_src, sort_keys=True).encode()).hexdigest()[:24]
    folder = cache_dir / key
    meta_path = folder / "meta.json"
    if meta_path.is_file() or folder.is_dir():
        try:
            return _read_meta(case.id, folder)
        except (OSError, KeyError, ValueError, TypeError) as exc:
            message = f"The cached copy of {case.id} in {folder} is damaged ({exc}); rebuilding it from the data."
            log.warning("%s", message)
            on_event(Log("warning", message))
            shutil.rmtree(folder, ignore_errors=True)
    # one volume at a time, in its stored pixel type, each full-size copy dropped as soon as it is
    # used: the memory this takes is set by the largest volume, not by the dataset
    loaded = load_case(case, as_float=False)
    image, label = _oriented_lps(loaded.image), _oriented_lps(loaded.label)
    coverage = _oriented_lps(loaded.coverage) if loaded.coverage is not None else None
    del loaded
    arr = sitk.GetArrayViewFromImage(image)
    modality = guess_modality(arr) if guess else norm.modality
    fit_norm = IntensityNormalization(modality, norm.ct_knots, norm.mr_percentiles)
    case_params = fit_norm.fit(case.id, arr)
    del arr
    image, label = _resample_in_plane(image, label, spacing)
    img = fit_norm.forward(sitk.GetArrayViewFromImage(image), case_params).astype(np.float16)
    try:
        lab = label_table.to_classes(sitk.GetArrayViewFromImage(label))
    except DataError as exc:
        raise DataError(
            f"{case.label}: {exc} Scan the dataset with its voxels checked (not --quick) so the label "
            "table lists every value, or name the values in a labels.json beside the data."
        ) from None
    presence = np.stack([(lab == c).any(axis=(1, 2)) for c in range(label_table.num_classes)], axis=1)
    if coverage is not None:  # slices the label does not cover are not background: left out
        coverage = sitk.Resample(coverage, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    labelled = labelled_slices(coverage, lab.shape[0])
    presence[~labelled] = False
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cache_dir))
    try:
        np.save(tmp / "image.npy", img)
        np.save(tmp / "label.npy", lab.astype(np.uint8))
        meta = {
            "case_id": case.id,
            "modality": modality,
            "shape": list(img.shape),
            "geometry": Geometry.of(image).to_json(),
            "source_geometry": case.geometry.to_json(),
            "norm": list(case_params),
            "digest": digest,
            "presence": presence.astype(int).tolist(),
        }
        if not labelled.all():
            meta["labelled"] = labelled.astype(int).tolist()
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        try:
            os.replace(tmp, folder)
        except OSError:  # another process built it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _read_meta(case.id, folder)


def _read_meta(case_id: str, folder: Path) -> tuple[CachedVolume, str]:
    """A cache entry, checked whole: its meta.json and both arrays complete and of one shape (a
    killed process or a full disk can leave a part written)."""
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    check_entry(folder, meta)
    vol = CachedVolume(
        case_id=case_id,
        folder=folder,
        shape=tuple(meta["shape"]),
        geometry=Geometry.from_json(meta["geometry"]),
        source_geometry=Geometry.from_json(meta["source_geometry"]),
        norm=tuple(meta["norm"]),
        presence=np.array(meta["presence"], dtype=bool),
        digest=meta.get("digest", ""),
        labelled=np.array(meta["labelled"], dtype=bool) if "labelled" in meta else None,
    )
    return vol, meta["modality"]


def _oriented_lps(image: sitk.Image) -> sitk.Image:
    """The image with its axes permuted/flipped to LPS (a copy only when that changes anything)."""
    if sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(image.GetDirection()) == "LPS":
        return image
    return sitk.DICOMOrient(image, "LPS")


def _resample_in_plane(image: sitk.Image, label: sitk.Image, spacing: float) -> tuple[sitk.Image, sitk.Image]:
    old_sp = image.GetSpacing()
    old_size = image.GetSize()
    new_sp = (spacing, spacing, old_sp[2])
    new_size = [max(1, int(round(old_size[i] * old_sp[i] / new_sp[i]))) for i in range(2)] + [old_size[2]]
    if tuple(new_size) == tuple(old_size) and np.allclose(new_sp, old_sp):
        return image, label
    # keep the physical centre of the first voxel row aligned: origin shifts by half the change
    direction = np.array(image.GetDirection()).reshape(3, 3)
    shift = np.array([(new_sp[i] - old_sp[i]) / 2.0 if i < 2 else 0.0 for i in range(3)])
    origin = tuple(np.array(image.GetOrigin()) + direction @ shift)
    ref = sitk.Image(new_size, sitk.sitkFloat32)
    ref.SetSpacing(new_sp)
    ref.SetOrigin(origin)
    ref.SetDirection(image.GetDirection())
    background = float(np.min(sitk.GetArrayViewFromImage(image)))
    image = sitk.Resample(image, ref, sitk.Transform(), sitk.sitkLinear, background, sitk.sitkFloat32)
    label = sitk.Resample(label, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, label.GetPixelID())
    return image, label
