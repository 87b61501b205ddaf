"""Fresh identifiers for every export: 2.25 UIDs, batch tokens and synthetic patient IDs.

Nothing here reuses, hashes or derives from a source identifier.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from pydicom.uid import generate_uid


def new_uid() -> str:
    """A new ``2.25.<uuid4 as integer>`` UID (random, never derived from input)."""
    return str(generate_uid(prefix=None))


def new_batch_id() -> str:
    """A short random token that makes patient IDs unique per export."""
    return secrets.token_hex(4).upper()


def synthetic_patient_id(batch: str, number: int) -> str:
    return f"SYN-{batch}-{number:04d}"


def synthetic_patient_name(case_id: str) -> str:
    return f"SYNTHETIC^{case_id}"


@dataclass(frozen=True)
class CaseUIDs:
    """Every UID of one exported case: one Study and one Frame of Reference shared by the image
    series and the SEG."""

    study: str
    frame_of_reference: str
    series: str
    seg_series: str
    seg_instance: str
    instances: tuple[str, ...]

    @classmethod
    def mint(cls, n_slices: int) -> CaseUIDs:
        return cls(
            study=new_uid(),
            frame_of_reference=new_uid(),
            series=new_uid(),
            seg_series=new_uid(),
            seg_instance=new_uid(),
            instances=tuple(new_uid() for _ in range(n_slices)),
        )

    def to_json(self, with_seg: bool = True) -> dict:
        out = {
            "study_instance_uid": self.study,
            "frame_of_reference_uid": self.frame_of_reference,
            "series_instance_uid": self.series,
            "sop_instance_uids": list(self.instances),
        }
        if with_seg:
            out["seg_series_instance_uid"] = self.seg_series
            out["seg_sop_instance_uid"] = self.seg_instance
        return out
