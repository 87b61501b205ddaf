"""nnU-Net v2 raw datasets and Medical Segmentation Decathlon tasks (both carry a dataset.json)."""

from __future__ import annotations

import json
from pathlib import Path

from engine.data.cases import CaseRef
from engine.data.formats import is_hidden_or_junk, volume_extension
from engine.data.found import Found
from engine.data.labels import parse_label_names
from engine.data.naming import modality_from_channel_name
from engine.errors import DataError


def read_dataset_json(root: Path) -> dict | None:
    path = root / "dataset.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as JSON ({exc}). Fix the file or remove it.") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object.")
    return data


def find_nnunet_or_msd(root: Path, meta: dict) -> Found:
    if "training" in meta and isinstance(meta["training"], list) and "channel_names" not in meta:
        return _find_msd(root, meta)
    return _find_nnunet(root, meta)


def _names_and_modality(meta: dict, root: Path, found: Found, channels_key: str) -> str | None:
    if "labels" in meta:
        try:
            found.label_names = parse_label_names(meta["labels"], root / "dataset.json")
        except DataError as exc:
            found.notes.append(str(exc))
    channels = meta.get(channels_key) or {}
    if isinstance(channels, dict) and channels:
        first = channels.get("0", next(iter(channels.values())))
        if len(channels) > 1:
            found.notes.append(
                f"dataset.json lists {len(channels)} channels ({', '.join(map(str, channels.values()))}); "
                f"SynthVol uses channel 0 ({first})."
            )
        return modality_from_channel_name(first)
    return None


def _find_nnunet(root: Path, meta: dict) -> Found:
    found = Found("nnunet")
    modality = _names_and_modality(meta, root, found, "channel_names")
    ending = str(meta.get("file_ending") or ".nii.gz")
    images_dir, labels_dir = root / "imagesTr", root / "labelsTr"
    if not images_dir.is_dir():
        raise DataError(f"{root}: dataset.json found but no imagesTr/ folder beside it.")
    images = {}
    for p in sorted(images_dir.iterdir()):
        if is_hidden_or_junk(p) or not p.name.endswith(ending):
            continue
        stem = p.name[: -len(ending)]
        if len(stem) > 5 and stem[-5] == "_" and stem[-4:].isdigit():
            case, channel = stem[:-5], stem[-4:]
            if channel == "0000":
                images[case] = p
        else:
            images[stem] = p  # tolerate a missing _0000 suffix
    labels = {}
    if labels_dir.is_dir():
        for p in sorted(labels_dir.iterdir()):
            if not is_hidden_or_junk(p) and p.name.endswith(ending):
                labels[p.name[: -len(ending)]] = p
    for case in sorted(set(images) | set(labels)):
        if case not in images:
            found.add(CaseRef(case, labels[case], labels[case], modality=modality)).fail(
                f"{labels[case]}: a label without an image (expected imagesTr/{case}_0000{ending})."
            )
            continue
        found.add(CaseRef(case, images[case], labels.get(case), label_kind="volume" if case in labels else None, modality=modality))
    tests = root / "imagesTs"
    if tests.is_dir():
        for p in sorted(tests.iterdir()):
            if not is_hidden_or_junk(p) and p.name.endswith(ending) and p.name[: -len(ending)].endswith("_0000"):
                found.add(CaseRef(p.name[: -len(ending) - 5], p, None, modality=modality))
    return found


def _find_msd(root: Path, meta: dict) -> Found:
    found = Found("msd")
    modality = _names_and_modality(meta, root, found, "modality")
    seen: set[Path] = set()
    for entry in meta.get("training", []):
        if not isinstance(entry, dict) or "image" not in entry:
            continue
        image = (root / entry["image"]).resolve()
        label = (root / entry["label"]).resolve() if entry.get("label") else None
        case_id = _msd_case_id(image)
        seen.add(image)
        case = found.add(CaseRef(case_id, image, label, label_kind="volume" if label else None, modality=modality))
        if not image.exists():
            case.fail(f"{image}: listed in dataset.json but missing.")
        elif label is not None and not label.exists():
            case.fail(f"{label}: listed in dataset.json but missing.")
    for entry in meta.get("test", []):
        path = entry if isinstance(entry, str) else (entry.get("image") if isinstance(entry, dict) else None)
        if path:
            image = (root / path).resolve()
            if image.exists() and image not in seen:
                found.add(CaseRef(_msd_case_id(image), image, None, modality=modality))
    return found


def _msd_case_id(path: Path) -> str:
    ext = volume_extension(path) or ""
    return path.name[: -len(ext)] if ext else path.name
