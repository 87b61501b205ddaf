"""NIfTI files (.nii.gz) written from fresh SimpleITK images (never ones carrying source metadata).

SimpleITK writes the header and geometry (LPS -> RAS, qform and sform); the gzip step is separate
so it can run in a worker thread (the deflate libraries release the GIL) while the DICOM files are
written, and uses a fast deflate (SimpleITK ignores the compression level it is given): Intel's ISA-L
through `isal` (about 2.4x zlib's level 1 on CT, same size), else zlib level 1 with run-length
matching. Both write one standard gzip member.
"""

from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

# the deflate step lives below the export layer (the gallery uses it too); names kept here
from engine.data.gzip_files import CHUNK, GZIP_LEVEL, GZIP_STRATEGY, GZIP_WBITS, gzip_file  # noqa: F401
from engine.data.volume_io import write_image_checked


def write_uncompressed(image: sitk.Image, gz_path: Path) -> Path:
    """Write ``image`` as plain ``.nii`` beside where ``gz_path`` will go; return that path."""
    if not gz_path.name.endswith(".nii.gz"):
        raise ValueError(f"{gz_path}: expected a .nii.gz file name")
    if image.GetMetaDataKeys():
        raise ValueError("refusing to write an image that carries metadata; rebuild it from voxels")
    gz_path.parent.mkdir(parents=True, exist_ok=True)
    plain = gz_path.with_name(gz_path.name[: -len(".gz")])
    write_image_checked(image, plain)  # raises OSError where ITK would leave a short file (full disk)
    return plain
