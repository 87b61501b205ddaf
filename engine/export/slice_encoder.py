"""Fast, byte-identical pydicom output for the slices of one series.

pydicom spends most of a slice's write time re-encoding the ~70 attributes every slice shares. Here
the template's elements are encoded once (with pydicom's own element writer), in tag order, as
chunks between the few per-slice tags; a slice file is then the preamble, its file meta, the chunks
and its own elements interleaved in ascending tag order, exactly what ``pydicom.dcmwrite`` writes
(tests/engine/test_export_variants.py checks the bytes against it). The file meta differs between
slices only in the SOP Instance UID: it is encoded once per UID length and the UID spliced in.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO, DicomFileLike
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.tag import Tag

PREAMBLE = b"\x00" * 128 + b"DICM"


def _buffer(fp) -> None:
    fp.is_little_endian = True
    fp.is_implicit_VR = False


class SliceEncoder:
    """Encode ``template`` once; write slices that add the elements tagged ``per_slice_tags``."""

    def __init__(self, template: Dataset, per_slice_tags: Iterable[int]) -> None:
        self.cuts = sorted(Tag(t) for t in per_slice_tags)
        clash = [t for t in self.cuts if t in template]
        if clash:
            raise ValueError(f"per-slice tags {clash} must not be in the template")
        self.encodings = template.get("SpecificCharacterSet", "iso8859")
        groups: list[list[DataElement]] = [[] for _ in range(len(self.cuts) + 1)]
        for tag in sorted(template.keys()):
            groups[bisect_left(self.cuts, tag)].append(template[tag])
        self.chunks = [self._encode(group) for group in groups]
        self._meta: dict[tuple, tuple[bytes, bytes]] = {}

    def _encode(self, elements: list[DataElement]) -> bytes:
        fp = DicomBytesIO()
        _buffer(fp)
        for elem in elements:
            write_data_element(fp, elem, self.encodings)
        return fp.getvalue()

    def _meta_bytes(self, file_meta: FileMetaDataset) -> bytes:
        """``write_file_meta_info``'s bytes for ``file_meta``, cached per SOP Instance UID length."""
        uid = str(file_meta.get("MediaStorageSOPInstanceUID", ""))
        raw = uid.encode("ascii") + b"\x00" * (len(uid) % 2)
        others = tuple(
            (int(e.tag), e.VR, str(e.value)) for e in file_meta if e.tag not in (0x00020000, 0x00020003)
        )
        key = (len(raw), others)
        parts = self._meta.get(key)
        if parts is None:
            fp = DicomBytesIO()
            _buffer(fp)
            write_file_meta_info(fp, file_meta, enforce_standard=True)
            encoded = fp.getvalue()
            if not raw or encoded.count(raw) != 1:
                return encoded
            parts = self._meta[key] = tuple(encoded.split(raw))
        return parts[0] + raw + parts[1]

    def write(self, path: Path, file_meta: FileMetaDataset, elements: dict[int, DataElement]) -> None:
        """Write one slice file with the per-slice ``elements`` (tag -> element; VRs unambiguous)."""
        if set(elements) != set(self.cuts):
            raise ValueError("every per-slice element must be given, and no other")
        with open(path, "wb") as raw:
            fp = DicomFileLike(raw)
            _buffer(fp)
            fp.write(PREAMBLE)
            fp.write(self._meta_bytes(file_meta))
            for chunk, tag in zip(self.chunks[:-1], self.cuts, strict=True):
                fp.write(chunk)
                write_data_element(fp, elements[tag], self.encodings)
            fp.write(self.chunks[-1])
