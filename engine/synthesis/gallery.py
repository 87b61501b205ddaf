"""The gallery: generated cases kept in RUN/gallery/<id>/ (image.nii.gz, label.nii.gz, case.json)
so they can be browsed, checked and exported later."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import SimpleITK as sitk

from engine.data.gzip_files import gzip_file
from engine.data.volume_io import write_image_checked
from engine.events import Control

_ID = re.compile(r"^syn_(\d{4,})$")


@dataclass
class GalleryItem:
    id: str
    folder: Path
    meta: dict

    @property
    def image_path(self) -> Path:
        return self.folder / "image.nii.gz"

    @property
    def label_path(self) -> Path:
        return self.folder / "label.nii.gz"

    @property
    def modality(self) -> str:
        return self.meta.get("modality", "MR")

    def load(self) -> tuple[sitk.Image, sitk.Image]:
        return sitk.ReadImage(str(self.image_path)), sitk.ReadImage(str(self.label_path))


class Gallery:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def items(self) -> list[GalleryItem]:
        if not self.folder.is_dir():
            return []
        out = []
        for d in sorted(self.folder.iterdir()):
            meta_path = d / "case.json"
            if d.is_dir() and _ID.match(d.name) and meta_path.is_file():
                try:
                    out.append(GalleryItem(d.name, d, json.loads(meta_path.read_text(encoding="utf-8"))))
                except json.JSONDecodeError:
                    continue
        return out

    def item(self, item_id: str) -> GalleryItem:
        for it in self.items():
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    def next_id(self) -> str:
        numbers = [int(m.group(1)) for d in (self.folder.iterdir() if self.folder.is_dir() else []) if (m := _ID.match(d.name))]
        return f"syn_{(max(numbers) + 1) if numbers else 1:04d}"

    def add(self, image: sitk.Image, label: sitk.Image, meta: dict, control: Control | None = None) -> GalleryItem:
        """Write a case atomically (a temporary folder renamed when complete). A stop requested on
        ``control`` while it is written abandons it (Cancelled; nothing is left behind)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        item_id = self.next_id()
        tmp = self.folder / f".{item_id}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        check = control.raise_if_stopped if control is not None else None
        try:
            for volume, name in ((image, "image.nii.gz"), (label, "label.nii.gz")):
                # plain NIfTI (checked: ITK leaves a short file on a full disk without raising), then
                # the fast chunked deflate, which ITK's own compression is ~10x slower than
                plain = write_image_checked(volume, tmp / name[: -len(".gz")])
                gzip_file(plain, tmp / name, check=check)
            meta = {**meta, "id": item_id}
            (tmp / "case.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.folder / item_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return GalleryItem(item_id, self.folder / item_id, meta)

    def remove(self, item_id: str) -> None:
        shutil.rmtree(self.folder / item_id, ignore_errors=True)
