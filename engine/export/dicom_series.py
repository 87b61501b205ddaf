"""Classic CT / MR Image Storage, one slice per file, written with pydicom from a template.

The template holds every attribute that is the same on all slices; per slice only the SOP Instance
UID, Instance Number, Image Position (Patient), Slice Location and the pixels change.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from engine.export.dicom_header import (
    MODEL_NAME,
    CaseIdentity,
    Provenance,
    add_patient_and_study,
    ds,
    ds_list,
    mark_synthetic,
)
from engine.export.slice_encoder import SliceEncoder
from engine.export.uids import CaseUIDs
from engine.export.volume import PreparedCase

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
SOP_CLASS = {"CT": CT_IMAGE_STORAGE, "MR": MR_IMAGE_STORAGE}
IMAGE_TYPE = {"CT": ["DERIVED", "SECONDARY", "AXIAL"], "MR": ["DERIVED", "SECONDARY", "OTHER"]}
SERIES_NUMBER = 1
PIXEL_DATA = 0x7FE00010
# SOPInstanceUID, InstanceNumber, ImagePositionPatient, SliceLocation, PixelData
PER_SLICE_TAGS = (0x00080018, 0x00200013, 0x00200032, 0x00201041, PIXEL_DATA)


def series_folder_name(modality: str) -> str:
    return f"{modality}_{SERIES_NUMBER}"


def series_template(case: PreparedCase, who: CaseIdentity, uids: CaseUIDs, prov: Provenance) -> Dataset:
    """Every attribute shared by the slices of one series (no per-slice ones)."""
    modality = case.case.modality
    sx, sy, sz = case.geometry.spacing
    m = case.geometry.matrix
    t = Dataset()
    add_patient_and_study(t, who, prov, modality)
    t.SOPClassUID = SOP_CLASS[modality]
    t.InstanceCreationDate, t.InstanceCreationTime = prov.date, prov.time
    t.ImageType = IMAGE_TYPE[modality]
    # General Series / Equipment
    t.Modality = modality
    t.SeriesInstanceUID = uids.series
    t.SeriesNumber = SERIES_NUMBER
    t.SeriesDate, t.SeriesTime = prov.date, prov.time
    t.SeriesDescription = f"Synthetic {modality} image"
    t.ProtocolName = f"{prov.app} synthesis"
    t.Laterality = ""
    t.PatientPosition = "HFS"
    t.Manufacturer = prov.app
    t.ManufacturerModelName = MODEL_NAME
    t.SoftwareVersions = prov.software_versions
    t.DeviceSerialNumber = prov.device_serial_number
    # General Image / Image Plane
    t.ContentDate, t.ContentTime = prov.date, prov.time
    t.AcquisitionNumber = ""
    t.BurnedInAnnotation = "NO"
    t.LossyImageCompression = "00"
    t.ImageOrientationPatient = ds_list([*m[:, 0], *m[:, 1]])
    t.PixelSpacing = ds_list([sy, sx])  # [row spacing, column spacing]
    t.SliceThickness = ds(sz)
    t.SpacingBetweenSlices = ds(sz)
    # Image Pixel
    rows, cols = case.pixels.shape[1:]
    signed = case.pixels.dtype.kind == "i"
    t.SamplesPerPixel = 1
    t.PhotometricInterpretation = "MONOCHROME2"
    t.Rows, t.Columns = int(rows), int(cols)
    t.BitsAllocated, t.BitsStored, t.HighBit = 16, 16, 15
    t.PixelRepresentation = 1 if signed else 0
    # VOI LUT
    centre, width = case.window
    t.WindowCenter, t.WindowWidth = ds(centre), ds(width)
    t.WindowCenterWidthExplanation = "Data range (0.5-99.5th percentile)"
    if modality == "CT":
        t.KVP = ""
        t.RescaleIntercept, t.RescaleSlope, t.RescaleType = "0", "1", "HU"
    else:
        t.ScanningSequence, t.SequenceVariant, t.ScanOptions = "RM", "NONE", ""
        t.MRAcquisitionType = "3D"
        t.RepetitionTime, t.EchoTime, t.EchoTrainLength = "", "", ""
    mark_synthetic(t, prov)
    return t


def write_series(
    folder: Path,
    case: PreparedCase,
    who: CaseIdentity,
    uids: CaseUIDs,
    prov: Provenance,
    on_file: Callable[[Path], None],
) -> list[Dataset]:
    """Write ``0001.dcm`` ... into ``folder``; return each slice's header (no pixels) for the SEG.

    ``on_file`` is called after every file (progress; it raises Cancelled to stop)."""
    folder.mkdir(parents=True, exist_ok=True)
    template = series_template(case, who, uids, prov)
    encoder = SliceEncoder(template, PER_SLICE_TAGS)
    normal = case.geometry.matrix[:, 2]
    pixels = case.pixels.astype(case.pixels.dtype.newbyteorder("<"), copy=False)
    headers: list[Dataset] = []
    width = max(4, len(str(case.n_slices)))
    for k in range(case.n_slices):
        inst = slice_header(template, uids.instances[k], k + 1, case.positions[k], normal)
        own = {tag: inst[tag] for tag in PER_SLICE_TAGS if tag != PIXEL_DATA}
        own[PIXEL_DATA] = DataElement(PIXEL_DATA, "OW", pixels[k].tobytes())
        path = folder / f"{k + 1:0{width}d}.dcm"
        encoder.write(path, file_meta(inst), own)
        headers.append(inst)
        on_file(path)
    return headers


def slice_header(template: Dataset, sop_uid: str, number: int, position, normal) -> Dataset:
    """One slice's attributes without pixels: the template's (shared, never mutated) plus its own."""
    inst = Dataset(dict(template.items()))  # the template's elements (a new dict; same as update())
    inst.SOPInstanceUID = sop_uid
    inst.InstanceNumber = number
    inst.ImagePositionPatient = ds_list(position)
    inst.SliceLocation = ds(float(np.dot(position, normal)))
    return inst


def file_meta(inst: Dataset) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = inst.SOPClassUID
    meta.MediaStorageSOPInstanceUID = inst.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return meta
