"""DICOM SEG of the label map, built with highdicom from the exported slices' own headers.

BINARY (default, uncompressed, no empty frames omitted: dcmqi/3D Slicer would crop in z; written by
the fast encoder in seg_encoder.py with highdicom's content) or the opt-in LABELMAP with RLE (built
by highdicom frame by frame). The DimensionOrganizationUID is a fresh 2.25 UID like every other.
Segment number = label value (when the table's values are 1..n, as the standard requires
consecutive segment numbers; otherwise their rank, recorded in the manifest).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

from engine.data.labels import LabelTable
from engine.export import seg_encoder
from engine.export.codes import codes_for
from engine.export.dicom_header import MODEL_NAME, CaseIdentity, Provenance, mark_synthetic
from engine.export.dicom_strings import label_text
from engine.export.uids import CaseUIDs, new_uid
from engine.export.volume import PreparedCase

log = logging.getLogger(__name__)
SEG_SERIES_NUMBER = 100
SEG_FOLDER = f"SEG_{SEG_SERIES_NUMBER}"
SEG_FILE = "seg.dcm"


def segment_numbers(table: LabelTable) -> dict[int, int]:
    """Label value -> SegmentNumber for every non-zero value of the table."""
    values = [v for v in table.values if v != 0]
    if values == list(range(1, len(values) + 1)):
        return {v: v for v in values}
    return {v: i + 1 for i, v in enumerate(values)}


def algorithm(prov: Provenance) -> hd.AlgorithmIdentificationSequence:
    params = {"checkpoint_sha256": prov.checkpoint_id} if prov.checkpoint_id else None
    return hd.AlgorithmIdentificationSequence(
        name=prov.app,
        family=codes.DCM.ArtificialIntelligence,
        version=prov.version,
        source=prov.app,
        parameters=params,
    )


def segment_descriptions(table: LabelTable, prov: Provenance) -> list[hd.seg.SegmentDescription]:
    numbers = segment_numbers(table)
    ident = algorithm(prov)
    out = []
    for value, number in numbers.items():
        info = table.entries[value]
        coded = codes_for(info.name)
        out.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=label_text(info.name, f"label {value}"),  # valid LO; the manifest keeps the full name
                segmented_property_category=coded.category,
                segmented_property_type=coded.type,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=ident,
                display_color=hd.color.CIELabColor.from_rgb(*info.color),
            )
        )
    return out


@dataclass(frozen=True)
class SegRequest:
    """What the SEG of one case is built from: the case, its exported slices' headers, the
    synthetic patient and study, its UIDs, the provenance, the label table and the SEG type."""

    case: PreparedCase
    headers: Sequence[Dataset]
    who: CaseIdentity
    uids: CaseUIDs
    prov: Provenance
    table: LabelTable
    seg_type: str = "BINARY"

    def numbers(self) -> dict[int, int]:
        """Label value -> segment number; empty (and said) when there is nothing but background."""
        numbers = segment_numbers(self.table)
        if not numbers:
            log.warning("Case %s: the label table has no labels besides background; no SEG.", self.who.case_id)
        return numbers


def build_seg(request: SegRequest) -> hd.seg.Segmentation | None:
    """highdicom's own build of the SEG (every frame built by highdicom); None if the table has no
    labels besides background."""
    numbers = request.numbers()
    if not numbers:
        return None
    return _builder(request)(_segment_number_map(request.case.label, numbers), False)


def write_case_seg(folder: Path, request: SegRequest) -> Path | None:
    """Write the case's SEG into ``folder``. BINARY goes through the fast encoder (highdicom's
    content, frames assembled from encoded bytes); LABELMAP, or anything the fast encoder cannot
    reproduce, is built by highdicom in full."""
    numbers = request.numbers()
    if not numbers:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    pixels = _segment_number_map(request.case.label, numbers)
    builder = _builder(request)
    if request.seg_type == "BINARY":
        encoded = seg_encoder.encode(request.headers, pixels, sorted(numbers.values()), builder)
        if encoded is not None:
            return encoded.write(folder / SEG_FILE)
        log.info("Case %s: SEG built frame by frame by highdicom (fast encoder not applicable).", request.who.case_id)
    return write_seg(folder, builder(pixels, False))


def _builder(request: SegRequest) -> seg_encoder.BuildSeg:
    """A function (pixel array, omit_empty_frames) -> the SEG, with every other setting fixed."""
    case, headers, uids, prov = request.case, request.headers, request.uids, request.prov
    labelmap = request.seg_type == "LABELMAP"
    descriptions = segment_descriptions(request.table, prov)
    dimension_organization = new_uid()

    def build(pixels: np.ndarray, omit_empty_frames: bool) -> hd.seg.Segmentation:
        seg = hd.seg.Segmentation(
            source_images=list(headers),
            pixel_array=pixels,
            segmentation_type=hd.seg.SegmentationTypeValues.LABELMAP
            if labelmap
            else hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=uids.seg_series,
            series_number=SEG_SERIES_NUMBER,
            sop_instance_uid=uids.seg_instance,
            instance_number=1,
            manufacturer=prov.app,
            manufacturer_model_name=MODEL_NAME,
            software_versions=prov.version,
            device_serial_number=prov.device_serial_number,
            content_label="LABELS",
            content_description="Label map of a synthetic volume",
            content_creator_name="SYNTHVOL^",
            series_description=f"Synthetic {case.case.modality} labels",
            series_date=prov.date,
            series_time=prov.time,
            content_date=prov.date,
            content_time=prov.time,
            omit_empty_frames=omit_empty_frames,
            transfer_syntax_uid=RLELossless if labelmap else ExplicitVRLittleEndian,
        )
        seg.SoftwareVersions = prov.software_versions
        seg.InstanceCreationDate, seg.InstanceCreationTime = prov.date, prov.time
        for item in seg.get("ContributingEquipmentSequence", []):  # highdicom's own: "now"
            if "ContributionDateTime" in item:
                item.ContributionDateTime = prov.when.strftime("%Y%m%d%H%M%S")
        for item in (*seg.DimensionOrganizationSequence, *seg.DimensionIndexSequence):
            item.DimensionOrganizationUID = dimension_organization  # a 2.25 UID, as every other one
        mark_synthetic(seg, prov)
        return seg

    return build


def _segment_number_map(label: np.ndarray, numbers: dict[int, int]) -> np.ndarray:
    """The label map with each value replaced by its segment number (0 stays 0)."""
    if all(v == n for v, n in numbers.items()):
        return label
    lut = np.zeros(
        max(int(label.max()), max(numbers)) + 1, dtype=np.uint8 if len(numbers) < 256 else np.uint16
    )
    for value, number in numbers.items():
        lut[value] = number
    return lut[label]


def write_seg(folder: Path, seg: hd.seg.Segmentation) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SEG_FILE
    seg.save_as(path, enforce_file_format=True)
    return path
