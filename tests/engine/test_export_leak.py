"""No identifier of a source study may reach an export: not in DICOM, NIfTI, nnU-Net or the manifest.

The source is a DICOM series full of identifiers, read the way a real pipeline would (SimpleITK's
ImageSeriesReader with the per-slice metadata dictionaries), and exported as it comes.
"""

from __future__ import annotations

import gzip

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from engine.export import ExportCase, ExportConfig, export_dataset
from tests.engine.export_helpers import make_volume, table

IDENTIFIERS = {
    "PatientName": "Doe^Janet^Quentin",
    "PatientID": "MRN-77345219",
    "PatientBirthDate": "19610704",
    "OtherPatientIDs": "OTHER-ID-5566778",
    "InstitutionName": "St Elsewhere General Hospital",
    "InstitutionAddress": "42 Wallaby Way Springfield",
    "StationName": "CTSTATION42",
    "AccessionNumber": "ACC99887766",
    "ReferringPhysicianName": "House^Gregory",
    "PerformingPhysicianName": "Quinn^Michaela",
    "OperatorsName": "Tech^Tessa",
    "StudyDate": "20190317",
    "SeriesDate": "20190318",
    "AcquisitionDate": "20190319",
    "StudyTime": "101530.987654",
    "StudyID": "STUDY4242X",
    "StudyDescription": "CHEST ABDOMEN PELVIS W CONTRAST",
    "SeriesDescription": "AXIAL 5MM VENOUS PHASE",
    "ProtocolName": "ABD_PELVIS_PROTOCOL_XYZ",
    "DeviceSerialNumber": "SN-55501234",
    "ImageComments": "Incidental finding discussed with Dr Who",
}
PRIVATE_CREATOR = "ACME_PRIVATE_CREATOR"
PRIVATE_VALUE = "PRIVATE-SECRET-VALUE-314159"


def write_ct_series(folder, image: sitk.Image, fill, file_name=lambda k: f"src{k:03d}.dcm") -> list[str]:
    """A CT series of ``image`` (HU), one file per slice; ``fill(ds, k)`` adds what a source header
    carries besides the geometry. Returns every UID the series uses."""
    folder.mkdir()
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    uids = [study, series, frame]
    array = sitk.GetArrayFromImage(image).astype(np.int16)
    m = np.asarray(image.GetDirection()).reshape(3, 3)
    for k in range(array.shape[0]):
        ds = Dataset()
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        uids.append(ds.SOPInstanceUID)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality = "CT"
        fill(ds, k)
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [f"{v:.6f}" for v in image.TransformIndexToPhysicalPoint((0, 0, k))]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*m[:, 0], *m[:, 1])]
        sx, sy, sz = image.GetSpacing()
        ds.PixelSpacing = [f"{sy:.6f}", f"{sx:.6f}"]
        ds.SliceThickness = f"{sz:.6f}"
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = array.shape[1:]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = "0", "1"
        ds.PixelData = array[k].tobytes()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        pydicom.dcmwrite(folder / file_name(k), ds, enforce_file_format=True)
    return uids


def _write_source_series(folder, image: sitk.Image) -> list[str]:
    """A CT series full of identifiers; returns every UID it uses."""

    def fill(ds, k):
        for key, value in IDENTIFIERS.items():
            setattr(ds, key, value)
        block = ds.private_block(0x0011, PRIVATE_CREATOR, create=True)
        block.add_new(0x01, "LO", PRIVATE_VALUE)

    return write_ct_series(folder, image, fill)


def _read_like_a_pipeline(folder) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    reader.MetaDataDictionaryArrayUpdateOn()
    reader.LoadPrivateTagsOn()
    image = reader.Execute()
    for key in reader.GetMetaDataKeys(0):  # make sure the image itself carries the source's tags
        image.SetMetaData(key, reader.GetMetaData(0, key))
    return image


def test_no_source_identifier_or_uid_reaches_any_exported_byte(tmp_path):
    src_image, src_label = make_volume("CT", size_xyz=(24, 20, 6))
    source_uids = _write_source_series(tmp_path / "source", src_image)
    image = _read_like_a_pipeline(tmp_path / "source")
    assert image.GetMetaData("0010|0010").strip() == IDENTIFIERS["PatientName"]  # the trap is armed
    label = sitk.Cast(src_label, sitk.sitkUInt8)
    for key in image.GetMetaDataKeys():
        label.SetMetaData(key, image.GetMetaData(key))

    case = ExportCase("syn_0001", "CT", lambda: (image, label), {"label_source": "train", "seed": 7})
    out = tmp_path / "out"
    export_dataset(ExportConfig(out_dir=out), [case], table(), run_info={"checkpoint_sha256": "ab" * 32})

    needles = {name: value for name, value in IDENTIFIERS.items()}
    needles.update({"private creator": PRIVATE_CREATOR, "private value": PRIVATE_VALUE})
    needles.update({f"uid {i}": uid for i, uid in enumerate(source_uids)})
    needles.update({f"name part {p}": p for p in ("Janet", "Gregory", "Elsewhere", "Wallaby", "STATION42")})
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 10
    leaks = []
    for path in files:
        blobs = [path.read_bytes()]
        if path.suffix == ".gz":
            blobs.append(gzip.decompress(blobs[0]))
        for what, needle in needles.items():
            for encoded in {needle.encode("utf-8"), needle.replace("^", " ").encode("utf-8")}:
                if any(encoded in blob for blob in blobs):
                    leaks.append(f"{path.relative_to(out)}: {what} ({needle})")
    assert not leaks, "\n".join(leaks)

    exported = sitk.ReadImage(str(out / "nifti" / "syn_0001_image.nii.gz"))
    assert not exported.GetMetaDataKeys() or "0010|0010" not in exported.GetMetaDataKeys()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(exported), sitk.GetArrayFromImage(image))
