"""Export labeled synthetic volumes: DICOM image series + DICOM SEG, NIfTI, an nnU-Net dataset and
a manifest, written atomically (see shared/specs/dicom-export.md).

    from engine.export import ExportConfig, export_gallery
    result = export_gallery(ExportConfig(out_dir=Path("OUT")), run, items, on_event=..., control=...)

``export_gallery`` exports samples of a run through the run's release policy (engine.release);
``export_dataset`` is the writer underneath it, for cases of any origin.
"""

from engine.export.config import FORMATS, SEG_TYPES, ExportCase, ExportConfig, ExportResult
from engine.export.exporter import export_dataset
from engine.export.gallery_export import export_gallery

__all__ = ["FORMATS", "SEG_TYPES", "ExportCase", "ExportConfig", "ExportResult", "export_dataset", "export_gallery"]
