"""Small test volumes for the export tests and runners for the third-party readers that check them."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from engine.data.labels import LabelTable
from engine.export import ExportCase

BIN = Path(sys.executable).parent

CT_TABLE = {0: "background", 1: "liver", 2: "kidney", 3: "tumour"}
MR_TABLE = {0: "background", 1: "grey matter", 2: "white matter", 3: "CSF"}


def oblique_direction(degrees: float = 20.0, left_handed: bool = False) -> tuple[float, ...]:
    """A rotation about two axes (so IOP has no zero components), optionally mirrored in z."""
    a, b = math.radians(degrees), math.radians(degrees / 2)
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    m = rz @ rx
    if left_handed:
        m[:, 2] *= -1
    return tuple(float(v) for v in m.ravel())


def make_volume(
    modality: str = "CT",
    size_xyz: tuple[int, int, int] = (40, 48, 12),
    spacing: tuple[float, float, float] = (0.7, 0.9, 2.5),
    origin: tuple[float, float, float] = (-10.5, 20.25, 33.3),
    direction: tuple[float, ...] | None = None,
    values: tuple[int, ...] = (1, 2, 3),
    seed: int = 0,
) -> tuple[sitk.Image, sitk.Image]:
    """An image (float, HU for CT / small float MR units) and a label map with ``values``."""
    nx, ny, nz = size_xyz
    zz, yy, xx = np.mgrid[:nz, :ny, :nx]
    label = np.zeros((nz, ny, nx), np.uint8)
    cy, cx = ny / 2, nx / 2
    label[(yy - cy) ** 2 + (xx - cx) ** 2 < (0.4 * min(nx, ny)) ** 2] = values[0]
    if len(values) > 1:
        label[(yy - cy * 0.8) ** 2 + (xx - cx * 0.7) ** 2 < (0.12 * min(nx, ny)) ** 2] = values[1]
    if len(values) > 2:
        blob = (zz > nz // 4) & (zz < 3 * nz // 4) & ((yy - cy * 1.25) ** 2 + (xx - cx * 1.2) ** 2 < 16)
        label[blob] = values[2]
    rng = np.random.default_rng(seed)
    lut = np.zeros(int(label.max()) + 1, np.float32)
    if modality == "CT":
        lut[0] = -1000.0
        for i, v in enumerate(values):
            lut[v] = 40.0 + 60.0 * i
        image = lut[label] + rng.normal(0, 15, label.shape).astype(np.float32)
    else:
        for i, v in enumerate(values):
            lut[v] = 0.3 + 0.25 * i
        image = lut[label] + rng.random(label.shape).astype(np.float32) * 0.05
    img, lab = sitk.GetImageFromArray(image.astype(np.float32)), sitk.GetImageFromArray(label)
    for im in (img, lab):
        im.SetSpacing(spacing)
        im.SetOrigin(origin)
        im.SetDirection(direction or oblique_direction())
    return img, lab


def case(case_id: str, modality: str = "CT", synthetic: bool = True, **kwargs) -> ExportCase:
    return ExportCase(
        case_id=case_id,
        modality=modality,
        load=lambda: make_volume(modality, **kwargs),
        meta={"label_source": "train", "seed": kwargs.get("seed", 0), "source_case": f"train_{case_id}"},
        synthetic=synthetic,
    )


def table(names: dict[int, str] = CT_TABLE) -> LabelTable:
    return LabelTable.from_names(names)


def tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed")
    return found


def run(args: list[str], timeout: float = 120) -> str:
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return out.stdout + out.stderr


def error_lines(report: str) -> list[str]:
    return [line for line in report.splitlines() if line.startswith("Error")]


def series_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.dcm"))


def read_series(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def sop_uids_along_normal(folder: Path) -> list[str]:
    """The series' SOP Instance UIDs sorted by position along the slice normal (not by our numbers)."""
    items = []
    for path in series_files(folder):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        iop = np.asarray(ds.ImageOrientationPatient, float)
        normal = np.cross(iop[:3], iop[3:])
        items.append((float(np.dot(np.asarray(ds.ImagePositionPatient, float), normal)), ds.SOPInstanceUID))
    return [uid for _, uid in sorted(items)]


def assert_same_image(a: sitk.Image, b: sitk.Image, tol: float = 1e-4) -> None:
    assert a.GetSize() == b.GetSize()
    np.testing.assert_allclose(a.GetSpacing(), b.GetSpacing(), atol=tol)
    np.testing.assert_allclose(a.GetOrigin(), b.GetOrigin(), atol=tol)
    np.testing.assert_allclose(a.GetDirection(), b.GetDirection(), atol=tol)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b))
