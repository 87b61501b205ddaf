"""A CT that is not DICOM (issue 14 §2): its modality from the intensities when nothing says it,
and head or body to open it with Slicer's Brain or Abdomen window. Synthetic phantoms of known
anatomy, and the real head CT."""

from __future__ import annotations

import shutil

import numpy as np
import SimpleITK as sitk

from engine.data import discover
from engine.data.modality import ct_body_region, describe_modality, infer_modality
from engine.data.viewing import load_for_view

PIXEL = 0.9  # mm


def _ellipse(shape, centre_mm, semi_mm) -> np.ndarray:
    rows, cols = np.indices(shape) * PIXEL
    return ((rows - centre_mm[0]) / semi_mm[0]) ** 2 + ((cols - centre_mm[1]) / semi_mm[1]) ** 2 <= 1.0


def head_phantom(slices: int = 24) -> np.ndarray:
    """An adult head: 150 x 185 mm of brain (30 HU) in a 6 mm skull (1000 HU) open at the foramen
    magnum side (a 20 mm gap), lying on a thin headrest; air outside."""
    shape = (256, 256)
    centre = (115.0, 115.0)
    plane = np.full(shape, -1000.0, np.float32)
    outer, inner = _ellipse(shape, centre, (92.0, 75.0)), _ellipse(shape, centre, (86.0, 69.0))
    plane[outer] = 1000.0
    plane[inner] = 30.0
    rows, cols = np.indices(shape) * PIXEL
    plane[(rows > 190) & (np.abs(cols - centre[1]) < 10) & outer & ~inner] = 30.0  # a gap in the ring
    plane[(rows > 212) & (rows < 216) & (np.abs(cols - centre[1]) < 60)] = 200.0  # headrest
    return np.repeat(plane[None], slices, axis=0)


def body_phantom(slices: int = 24, lungs: bool = False) -> np.ndarray:
    """A trunk: 340 x 240 mm of soft tissue (40 HU) under fat, a spine and a ring of ribs; with
    ``lungs`` two air-filled lungs (-800 HU) inside the ribs (a chest)."""
    shape = (300, 420)
    centre = (135.0, 189.0)
    plane = np.full(shape, -1000.0, np.float32)
    plane[_ellipse(shape, centre, (120.0, 170.0))] = -100.0
    plane[_ellipse(shape, centre, (110.0, 160.0))] = 40.0
    plane[_ellipse(shape, (215.0, 189.0), (18.0, 18.0))] = 800.0  # vertebra
    rib_ring = _ellipse(shape, centre, (104.0, 150.0)) & ~_ellipse(shape, centre, (100.0, 146.0))
    plane[rib_ring] = 700.0
    if lungs:
        plane[_ellipse(shape, (125.0, 120.0), (70.0, 55.0))] = -800.0
        plane[_ellipse(shape, (125.0, 258.0), (70.0, 55.0))] = -800.0
    return np.repeat(plane[None], slices, axis=0)


def test_head_and_body_phantoms_are_told_apart():
    spacing = (PIXEL, PIXEL, 3.0)
    assert ct_body_region(head_phantom(), spacing) == "head"
    assert ct_body_region(body_phantom(), spacing) == "body"
    assert ct_body_region(body_phantom(lungs=True), spacing) == "body"
    no_bone = head_phantom()
    no_bone[no_bone > 500] = 40.0  # a head-sized thing with no skull: not called a head
    assert ct_body_region(no_bone, spacing) == "body"


def test_region_reads_axial_slices_of_a_permuted_volume():
    # The head stored with index k running anterior-posterior (a coronal acquisition):
    # the axial planes are then array axis 1, and the rule must cut along it.
    head = head_phantom(slices=60)  # (z, y, x) with z superior
    permuted = np.ascontiguousarray(np.transpose(head, (1, 0, 2)))  # (y, z, x): array axis 1 is superior
    direction = (1.0, 0, 0, 0, 0, 1.0, 0, 1.0, 0)  # index j runs superior, k posterior
    assert ct_body_region(permuted, (PIXEL, 3.0, PIXEL), direction) == "head"


def test_modality_from_intensities():
    assert infer_modality(head_phantom()) == "CT"
    mr = np.random.default_rng(0).uniform(0, 900, (8, 32, 32)).astype(np.float32)
    assert infer_modality(mr) == "MR"
    assert describe_modality("CT", True) == "CT (from intensities)"
    assert describe_modality("MR", False) == "MR"
    assert describe_modality(None, False) == "unknown"


def test_scan_names_a_nameless_ct_from_its_intensities(tmp_path, real_data):
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "labels").mkdir()
    # the real head CT under a name that says nothing about the modality
    shutil.copy(real_data / "head_ct" / "images" / "head_ct.nii.gz", data / "images" / "case_001.nii.gz")
    shutil.copy(real_data / "head_ct" / "labels" / "head_ct.nii.gz", data / "labels" / "case_001.nii.gz")
    result = discover(data)
    case = result.case("case_001")
    assert case.modality is None  # not claimed as declared
    assert case.inferred_modality == "CT" and case.modality_text == "CT (from intensities)"
    assert case.to_json()["modality_from_intensities"] == "CT"
    view = load_for_view(case)
    assert view.modality == "CT" and view.modality_inferred and view.body_region == "head"
    info = dict(view.info_rows())
    assert info["Modality"] == "CT (from intensities)"
    assert info["Data type"] == "16-bit signed integer"
    assert info["Value range"] == "-1024 to 2986"
    assert info["Units"].startswith("HU")


def test_a_declared_modality_is_not_overridden(tmp_path):
    image = sitk.GetImageFromArray(body_phantom(slices=4))
    path = tmp_path / "patient_mr.nii.gz"  # the name says MR: trusted, not second-guessed
    sitk.WriteImage(image, str(path))
    case = discover(path).cases[0]
    assert case.modality == "MR" and case.inferred_modality is None and case.modality_text == "MR"
