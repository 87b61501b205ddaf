"""A small CT dataset as a PACS export leaves it, identifiers planted everywhere a patient's identity
can hide: the dataset and case folder names (``SURNAME^GIVEN MRN-1234567``), the file names, every
identifying DICOM attribute (names, IDs, dates, times, UIDs, institution, descriptions, inside
sequences and in private tags, as text and as raw bytes), the label names and labels.json.

``needles()`` lists every planted string, as it was planted and in the spellings an export could
turn it into (``DOE^JANE`` as ``DOE JANE`` / ``DOE_JANE``), for a byte-by-byte search.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from tests.e2e.test_generate_cli import _phantom
from tests.engine.test_export_leak import write_ct_series

PRIVATE_CREATOR = "HOSPITAL_PRIVATE_TAGS"


@dataclass
class Patient:
    surname: str
    given: str
    mrn: str
    birth: str  # YYYYMMDD
    study_date: str
    accession: str
    uids: list[str] = field(default_factory=list)

    @property
    def folder(self) -> str:
        return f"{self.surname}^{self.given} {self.mrn}"

    @property
    def file_stem(self) -> str:
        return f"{self.surname}_{self.given}_{self.mrn}"

    def values(self) -> dict[str, str]:
        """keyword -> value: every identifying attribute a source header carries."""
        name = f"{self.surname}^{self.given}"
        return {
            "PatientName": name,
            "PatientID": self.mrn,
            "IssuerOfPatientID": f"ISSUER-{self.mrn}",
            "PatientBirthDate": self.birth,
            "PatientBirthTime": "071530",
            "PatientAge": "058Y",
            "PatientAddress": f"12 {self.surname} Street Springfield",
            "PatientTelephoneNumbers": "555-0199-4242",
            "PatientMotherBirthName": f"{self.surname}^MOTHERNAME",
            "OtherPatientNames": f"{self.surname}^ALIAS",
            "MilitaryRank": "CAPTAIN-SECRET",
            "EthnicGroup": "ETHNIC-SECRET",
            "Occupation": "OCCUPATION-SEC",
            "AdditionalPatientHistory": f"History of {self.given} {self.surname} seen 2019",
            "PatientComments": f"Comment about {self.mrn}",
            "InstitutionName": "St Elsewhere General Hospital",
            "InstitutionAddress": "42 Wallaby Way Sydney",
            "InstitutionalDepartmentName": "RADIOLOGY-WEST-WING",
            "StationName": "CTSTATION42",
            "DeviceSerialNumber": "SN-55501234",
            "ReferringPhysicianName": "House^Gregory",
            "PerformingPhysicianName": "Quinn^Michaela",
            "OperatorsName": "Tech^Tessa",
            "RequestingPhysician": "Cuddy^Lisa",
            "NameOfPhysiciansReadingStudy": "Wilson^James",
            "AccessionNumber": self.accession,
            "StudyID": f"ST{self.mrn}",
            "StudyDate": self.study_date,
            "SeriesDate": self.study_date,
            "AcquisitionDate": self.study_date,
            "ContentDate": self.study_date,
            "StudyTime": "101530.987654",
            "SeriesTime": "101645.123456",
            "AcquisitionDateTime": f"{self.study_date}101700",
            "StudyDescription": f"CT CHEST {self.surname} FOLLOW UP",
            "SeriesDescription": f"AXIAL VENOUS {self.mrn}",
            "ProtocolName": f"PROTOCOL-{self.surname}",
            "ImageComments": f"Incidental finding discussed with {self.given}",
            "RequestedProcedureDescription": f"REQUESTED-{self.accession}",
            "PerformedProcedureStepDescription": f"PPS-{self.surname}",
            "PerformedProcedureStepID": f"PPS{self.mrn}",
        }


PATIENTS = (
    Patient("DOE", "JANETTE", "MRN-7734521", "19610704", "20190317", "ACC99887766"),
    Patient("ROEBUCK", "RICHARDO", "MRN-1122334", "19550212", "20180921", "ACC11224455"),
    Patient("SMITHERS", "WAYLON", "MRN-5566778", "19700101", "20200505", "ACC55667788"),
)
DATASET_FOLDER = "PACS export MRN-9990001"  # the dataset folder itself carries an identifier
LABEL_NAMES = {
    "1": "body",
    "2": f"liver of {PATIENTS[0].surname}^{PATIENTS[0].given}",
    "3": f"bone {PATIENTS[1].mrn}",
}


def _sequence_items(p: Patient) -> dict[str, Sequence]:
    other_ids = Dataset()
    other_ids.PatientID = f"OTHER-{p.mrn}"
    other_ids.IssuerOfPatientID = "OTHER-ISSUER-SECRET"
    ref_study = Dataset()
    ref_study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    ref_study.ReferencedSOPInstanceUID = generate_uid()
    request = Dataset()
    request.RequestedProcedureID = f"RP-{p.accession}"
    request.ScheduledProcedureStepID = f"SPS-{p.mrn}"
    request.ScheduledProcedureStepDescription = f"SCHEDULED FOR {p.surname}"
    code = Dataset()
    code.CodeValue = "XYZ123"
    code.CodingSchemeDesignator = "LOCAL"
    code.CodeMeaning = f"Procedure code of {p.given} {p.surname}"
    p.uids.append(ref_study.ReferencedSOPInstanceUID)
    return {
        "OtherPatientIDsSequence": Sequence([other_ids]),
        "ReferencedStudySequence": Sequence([ref_study]),
        "RequestAttributesSequence": Sequence([request]),
        "ProcedureCodeSequence": Sequence([code]),
    }


def write_patient(folder: Path, p: Patient, seed: int) -> sitk.Image:
    """One CT series (a file per slice, named after the patient) full of identifiers; returns the
    label map on its grid."""
    image, label = _phantom(seed)

    def fill(ds, k):
        for key, value in p.values().items():
            setattr(ds, key, value)
        for key, seq in _sequence_items(p).items():
            setattr(ds, key, seq)
        block = ds.private_block(0x0011, PRIVATE_CREATOR, create=True)
        block.add_new(0x01, "LO", f"PRIVATE-LO-{p.mrn}")
        block.add_new(0x02, "UN", f"PRIVATE-RAW-{p.surname}-{p.birth}".encode("ascii"))

    p.uids += write_ct_series(folder, image, fill, lambda k: f"{p.file_stem}_{k + 1:04d}.dcm")
    return label


def build_dataset(base: Path) -> Path:
    """``base/PACS export MRN-9990001/<SURNAME^GIVEN MRN>/<files>`` + a label per case beside its
    series folder (named after the patient) + labels.json with identifying label names."""
    root = base / DATASET_FOLDER
    root.mkdir(parents=True)
    for i, p in enumerate(PATIENTS):
        label = write_patient(root / p.folder, p, i)
        sitk.WriteImage(label, str(root / f"{p.folder}.nii.gz"))
    (root / "labels.json").write_text(json.dumps(LABEL_NAMES))
    return root


def _spellings(text: str) -> set[str]:
    out = {text}
    for sep in (" ", "_", "-"):
        out.add(text.replace("^", sep))
    return {s for s in out if s}


def needles(root: Path, *extra_paths: Path) -> dict[str, str]:
    """what -> string: everything planted, for a byte search (case is kept as planted; the search
    is case-insensitive)."""
    found: dict[str, str] = {}
    for p in PATIENTS:
        for key, value in p.values().items():
            for spelling in _spellings(value):
                found[f"{p.surname} {key} {spelling}"] = spelling
        for part in (
            p.surname,
            p.given,
            p.mrn,
            p.folder,
            p.file_stem,
            p.accession,
            p.birth,
            p.study_date,
            f"{p.study_date[:4]}-{p.study_date[4:6]}-{p.study_date[6:]}",
            f"{p.birth[:4]}-{p.birth[4:6]}-{p.birth[6:]}",
            f"OTHER-{p.mrn}",
            f"RP-{p.accession}",
            f"SPS-{p.mrn}",
            f"PRIVATE-LO-{p.mrn}",
            f"PRIVATE-RAW-{p.surname}",
        ):
            for spelling in _spellings(part):
                found[f"{p.surname} {spelling}"] = spelling
        for i, uid in enumerate(p.uids):
            found[f"{p.surname} uid {i}"] = uid
    found.update(
        {
            "private creator": PRIVATE_CREATOR,
            "dataset folder": DATASET_FOLDER,
            "MRN-9990001": "MRN-9990001",
            "dataset path": str(root),
            "other ids issuer": "OTHER-ISSUER-SECRET",
        }
    )
    for i, path in enumerate(extra_paths):
        found[f"path {i}"] = str(path)
    # parts of values that are not identifying on their own (common words of the descriptions)
    return {k: v for k, v in found.items() if len(v) >= 3}
