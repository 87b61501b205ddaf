"""Export labeled synthetic volumes: DICOM image series + DICOM SEG, NIfTI, an nnU-Net dataset and
a manifest, written atomically (see shared/specs/dicom-export.md).

    from engine.export import ExportCase, ExportConfig, export_dataset
    result = export_dataset(ExportConfig(out_dir=Path("OUT")), cases, label_table, on_event, control)
"""

from engine.export.config import FORMATS, SEG_TYPES, ExportCase, ExportConfig, ExportResult
from engine.export.exporter import export_dataset

__all__ = ["FORMATS", "SEG_TYPES", "ExportCase", "ExportConfig", "ExportResult", "export_dataset"]
