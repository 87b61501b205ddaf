"""Folders without a dataset.json: paired image/label folders, DICOM trees and loose files.

Files are classified by name (naming.role_and_key), DICOM files are grouped by SeriesInstanceUID
whatever the folders, then images and labels are paired by case key within a folder, across a
paired images/ + labels/ folder (exact names first, layout_paired), or by a label named after a
DICOM series folder. A SynthVol export found inside the dataset is left out (its cases are
synthetic); scanned on its own, it reads back as cases.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from engine import APP_NAME
from engine.data.cases import CaseRef
from engine.data.dicom_series import DicomFile, DicomSeries, NotAnImage, group_by_series, read_dicom_file
from engine.data.formats import (
    has_dicom_magic,
    is_hidden_or_junk,
    looks_like_dicom,
    strip_extensions,
    volume_extension,
)
from engine.data.found import Found
from engine.data.layout_paired import match_paired
from engine.data.naming import IMAGE_DIRS, LABEL_DIRS, role_and_key
from engine.data.synthvol_exports import is_synthvol_export
from engine.errors import DataError
from engine.events import Control, EventCallback, Progress, ignore_events

log = logging.getLogger(__name__)

IGNORED_EXTENSIONS = {
    ".txt", ".md", ".json", ".csv", ".tsv", ".xml", ".html", ".pdf", ".png", ".jpg", ".jpeg",
    ".gif", ".bmp", ".tif", ".tiff", ".py", ".zip", ".gz", ".tar", ".xlsx", ".log", ".yaml", ".yml",
    ".npy", ".npz", ".pkl", ".pt", ".pth", ".mrml", ".mrb", ".raw", ".img", ".hdr", ".ini", ".bat",
}


@dataclass
class Entry:
    kind: str  # "volume" | "series"
    path: Path  # the file, or the series folder
    role: str | None
    key: str
    group: str
    series: DicomSeries | None = None
    name: str = ""  # in a paired layout: the file stem or case folder it is matched by


def walk(
    root: Path, recursive: bool = True, skipped: list[Path] | None = None, unreadable: list[OSError] | None = None
) -> tuple[list[Path], list[Path]]:
    """(volume files, DICOM candidate files) under root, sorted, hidden and junk files skipped.
    Sub-folders holding a SynthVol export are not entered (listed in ``skipped``); folders that
    cannot be listed are reported in ``unreadable`` (never left out silently)."""
    volumes, dicoms = [], []
    on_error = unreadable.append if unreadable is not None else None
    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        if recursive:
            kept = []
            for d in sorted(d for d in dirnames if not d.startswith(".")):
                if is_synthvol_export(Path(dirpath) / d):
                    if skipped is not None:
                        skipped.append(Path(dirpath) / d)
                    continue
                kept.append(d)
            dirnames[:] = kept
        else:
            dirnames[:] = []
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if is_hidden_or_junk(path):
                continue
            if volume_extension(path):
                volumes.append(path)
                continue
            suffix = path.suffix.lower()
            if looks_like_dicom(path) or ((not suffix or suffix[1:].isdigit()) and has_dicom_magic(path)):
                dicoms.append(path)
            elif suffix not in IGNORED_EXTENSIONS and has_dicom_magic(path):
                dicoms.append(path)
    return volumes, dicoms


def find_in_tree(
    root: Path, on_event: EventCallback = ignore_events, control: Control | None = None, recursive: bool = True
) -> Found:
    found = Found("files")
    exports: list[Path] = []
    unreadable: list[OSError] = []
    volumes, dicom_paths = walk(root, recursive, exports, unreadable)
    for err in unreadable:
        found.notes.append(
            f"{err.filename}: the folder cannot be read ({err.strerror or err}); the files in it are not in the "
            "scan. Give your user read permission on it."
        )
    for folder in exports:
        found.notes.append(
            f"{folder}: a {APP_NAME} export of synthetic cases inside the dataset; left out (its cases are "
            "not real). Move it out of the dataset folder, or scan it on its own to read it."
        )
    infos: list[DicomFile] = []
    for i, path in enumerate(dicom_paths):
        if control is not None:
            control.raise_if_stopped()
        try:
            infos.append(read_dicom_file(path))
        except DataError as exc:
            found.add(CaseRef(strip_extensions(path.name), path)).fail(str(exc))
        except NotAnImage:
            log.debug("%s: a DICOMDIR, skipped", path)
        if i % 200 == 0 or i == len(dicom_paths) - 1:
            on_event(Progress(i + 1, len(dicom_paths), f"Reading DICOM headers ({i + 1}/{len(dicom_paths)})"))
    series = group_by_series(infos)
    image_series = [s for s in series.values() if not s.is_seg]
    seg_series = [s for s in series.values() if s.is_seg]
    if image_series:
        found.layout = "dicom"

    images_dir, labels_dir = _paired_dirs(root)
    if images_dir and labels_dir:
        found.layout = "paired"

    entries: list[Entry] = []
    claimed: set[Path] = set()
    series_ids = _series_keys(image_series, images_dir, root)
    segs_by_ref: dict[str, list[DicomSeries]] = defaultdict(list)
    for seg in seg_series:
        segs_by_ref[seg.first.referenced_series or ""].append(seg)

    for s in image_series:
        key, group, owns_folder = series_ids[s.uid]
        entries.append(Entry("series", s.folder if owns_folder else s.first.path, "image", key, group, s, name=key))
        # a label inside the series folder: 'patient1/seg.nrrd', 'patient1/label.nii.gz'
        for v in volumes if owns_folder else []:
            if v.parent == s.folder and role_and_key(v.name)[0] == "label" and v not in claimed:
                entries.append(Entry("volume", v, "label", key, group, name=key))
                claimed.add(v)

    for v in volumes:
        if v in claimed:
            continue
        role, key = role_and_key(v.name)
        group = str(v.parent)
        name = ""
        if images_dir and v.parent == images_dir:
            role, group, name = "image", "paired", strip_extensions(v.name)
        elif labels_dir and v.parent == labels_dir:
            role, group, name = "label", "paired", strip_extensions(v.name)
        elif images_dir and images_dir in v.parents:  # images/<case>/<file>: an image, whatever its name
            role, group, key = "image", "paired", v.relative_to(images_dir).parts[0]
            name = key
        elif labels_dir and labels_dir in v.parents:  # labels/<case>/<file>
            role, group, key = "label", "paired", v.relative_to(labels_dir).parts[0]
            name = key
        if not key:
            key = v.parent.name
        entries.append(Entry("volume", v, role, key, group, name=name))

    _pair([e for e in entries if e.group != "paired"], found, segs_by_ref)
    _pair_folders([e for e in entries if e.group == "paired"], found, segs_by_ref)
    if images_dir is not None:
        _report_empty_case_folders(images_dir, volumes, dicom_paths, found)
    for seg in seg_series:
        if seg.first.referenced_series not in {s.uid for s in image_series}:
            found.add(CaseRef(strip_extensions(seg.first.path.name), seg.first.path)).fail(
                f"{seg.first.path}: a DICOM SEG whose referenced series ({seg.first.referenced_series}) "
                "is not in this folder. Put it beside the image series it segments."
            )
        for f in seg.first.segments.items():
            found.label_names.setdefault(f[0], f[1])
    if image_series and volumes:
        found.layout = "mixed" if found.layout == "dicom" else found.layout
    return found


def _report_empty_case_folders(images_dir: Path, volumes: list[Path], dicoms: list[Path], found: Found) -> None:
    """A case folder under images/ with no image file in it is listed as an error, not forgotten."""
    occupied = {p.relative_to(images_dir).parts[0] for p in [*volumes, *dicoms] if images_dir in p.parents}
    for child in sorted(images_dir.iterdir()):
        if child.is_dir() and not is_hidden_or_junk(child) and child.name not in occupied:
            found.add(CaseRef(child.name, child)).fail(
                f"{child}: an empty case folder (no DICOM, NIfTI, NRRD or MHA file in it). "
                "Copy the case's image files into it, or remove the folder."
            )


def _paired_dirs(root: Path) -> tuple[Path | None, Path | None]:
    images = labels = None
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        if not child.is_dir():
            continue
        name = child.name.lower()
        if images is None and name in IMAGE_DIRS:
            images = child
        elif labels is None and name in LABEL_DIRS:
            labels = child
    return images, labels


def _series_keys(
    image_series: list[DicomSeries], images_dir: Path | None, root: Path
) -> dict[str, tuple[str, str, bool]]:
    """Case key, pairing group and whether it has its folder to itself, for each DICOM series.

    A series in its own folder is named by the folder (the case folder under images/ in a paired
    layout), with the series number added when a folder holds several. A series that is one file
    (a 2-D slice or a multi-frame file) lying among other files, in images/ or at the top of the
    dataset, is named by its file. Folders named alike in every case ('CT_1', 'DICOM', 'series1')
    are told apart by the folder above them.
    """
    by_folder: dict[Path, list[DicomSeries]] = defaultdict(list)
    for s in image_series:
        by_folder[s.folder].append(s)
    out: dict[str, tuple[str, str, bool]] = {}
    plain: dict[str, tuple[Path, str]] = {}  # uid -> (folder, base) of series named by their folder
    for folder, group in by_folder.items():
        in_images = images_dir is not None and (folder == images_dir or images_dir in folder.parents)
        grp = "paired" if in_images else str(folder.parent)
        loose = folder == root or (images_dir is not None and folder == images_dir) or folder.name.lower() in IMAGE_DIRS
        ordered = sorted(group, key=lambda s: (s.first.series_number or 0, s.uid))
        for i, s in enumerate(ordered):
            if len(s.files) == 1 and (loose or len(group) > 1):
                out[s.uid] = (strip_extensions(s.first.path.name), "paired" if in_images else str(folder), False)
                continue
            if in_images:
                rel = folder.relative_to(images_dir).parts
                base = rel[0] if rel else strip_extensions(s.first.path.name)
            else:
                base = folder.name
            key = base if len(group) == 1 else f"{base}_S{s.first.series_number or i + 1}"
            out[s.uid] = (key, grp, len(group) == 1)
            if not in_images and len(group) == 1:
                plain[s.uid] = (folder, base)
    # the same folder name in several places: the folder above tells the cases apart
    names: dict[str, list[str]] = defaultdict(list)
    for uid, (_folder, base) in plain.items():
        names[base.lower()].append(uid)
    for uids in names.values():
        parents = {plain[u][0].parent for u in uids}
        if len(uids) < 2 or len(parents) < len(uids):
            continue
        parent_names = [plain[u][0].parent.name for u in uids]
        for u in uids:
            folder, base = plain[u]
            above = folder.parent
            unique = parent_names.count(above.name) == 1 and above != root
            key = above.name if unique else f"{above.name}_{base}"
            out[u] = (key, str(above.parent), True)
    return out


def _add_case(found: Found, img: Entry, labels: list[Entry], case_id: str, segs_by_ref) -> CaseRef:
    """A case for the image entry ``img`` labelled by ``labels[0]`` (or its DICOM SEG)."""
    label = labels[0] if labels else None
    case = CaseRef(case_id, img.path)
    seg = None
    if img.series is not None:
        segs = segs_by_ref.get(img.series.uid, [])
        if segs:
            seg = segs[0]
            case.label, case.label_kind = seg.first.path, "seg"
            if label is not None:
                case.warnings.append(f"both a DICOM SEG and {label.path.name} label this series; using the SEG")
                label = None
    if label is not None:
        case.label, case.label_kind = label.path, "volume"
        if len(labels) > 1:
            case.warnings.append(
                f"several label files match: using {label.path.name}, ignoring "
                + ", ".join(e.path.name for e in labels[1:])
            )
    case = found.add(case)
    if img.series is not None:
        found.series[case.id] = img.series
    if seg is not None:
        found.seg_series[case.id] = seg
    return case


def _orphan_label(found: Found, lab: Entry) -> None:
    found.add(CaseRef(lab.key or strip_extensions(lab.path.name), lab.path)).fail(
        f"{lab.path}: a label map without an image (no image named '{lab.key}' beside it). "
        "Name the image and label after the same case, e.g. case1.nii.gz + case1_seg.nii.gz."
    )


def _pair_folders(entries: list[Entry], found: Found, segs_by_ref: dict[str, list[DicomSeries]]) -> None:
    """images/ + labels/: exact names first, the naming rules for what is left (layout_paired)."""
    images = [(e.name or e.key, e) for e in entries if e.role != "label"]
    labels = [(e.name or e.key, e) for e in entries if e.role == "label"]
    matches, left = match_paired(images, labels)
    for m in matches:
        case = _add_case(found, m.image, [m.label] if m.label is not None else [], m.case_id, segs_by_ref)
        if m.label is None and case.label is None:
            case.warnings.append(
                f"no label file in the labels folder is named like {m.image.path.name}; listed as unlabeled"
            )
    for lab in left:
        found.add(CaseRef(lab.name or lab.key, lab.path)).fail(
            f"{lab.path}: a label map without an image (no image in the images folder is named "
            f"'{lab.name or lab.key}'). Give the image and its label the same file name."
        )


def _pair(entries: list[Entry], found: Found, segs_by_ref: dict[str, list[DicomSeries]]) -> None:
    buckets: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for e in entries:
        buckets[(e.group, e.key.lower())].append(e)
    for (_group, _key), items in sorted(buckets.items(), key=lambda kv: kv[0]):
        labels = [e for e in items if e.role == "label"]
        images = [e for e in items if e.role != "label"]
        if not labels and len(images) == 2:
            # 'case.nii.gz' beside 'case_0000.nii.gz', or 'pat1.nii.gz' beside the DICOM folder pat1/
            unnamed = [e for e in images if e.role is None and e.kind == "volume"]
            if len(unnamed) == 1 and {e.role for e in images} == {"image", None}:
                labels, images = unnamed, [e for e in images if e is not unnamed[0]]
        stems = [strip_extensions(e.path.name) for e in images]
        for img in images:
            stem = strip_extensions(img.path.name)
            if len(images) == 1:
                case_id = img.key
            else:  # several images share a key: their own names tell them apart
                case_id = stem if stems.count(stem) == 1 else img.path.name
            _add_case(found, img, labels, case_id, segs_by_ref)
        if not images:
            for lab in labels:
                _orphan_label(found, lab)
