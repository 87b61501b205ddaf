"""Screen orientation against 3D Slicer's own definition (issue 14 §1).

Synthetic volumes hold three markers at known patient positions: the patient's right, anterior
and superior of the centre. They are written to disk on LPS, RAS, oblique and permuted grids, read
back through the engine (as the Dataset and Gallery views read them) and shown in a SliceView. The
side of the screen each marker lands on must be the side Slicer's slice-to-RAS matrices
(``vtkMRMLSliceNode::Get{Axial,Coronal,Sagittal}SliceToRASMatrix``, written out below from
Slicer's source) put it on, and the edge letters must name the patient side they face.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from engine.data.labels import LabelTable
from engine.data.viewing import ViewVolume, load_files_for_view
from engine.synthesis.gallery import GalleryItem
from gui.panels import gallery_jobs as jobs
from gui.panels.gallery_compare import ComparePane
from gui.widgets.slice_view import SliceView

# Slicer's SliceToRAS orientation: column 0 = where screen x (rightward) points in RAS,
# column 1 = where screen y (upward) points.
SLICER_SCREEN_AXES = {
    "axial": (np.array([-1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])),
    "coronal": (np.array([-1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])),
    "sagittal": (np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, 1.0])),
}
# Which marker each plane shows (the plane through the centre along that marker's offset).
PLANE_NORMAL_RAS = {"axial": 2, "coronal": 1, "sagittal": 0}
# marker label value -> offset from the centre in RAS mm
MARKERS_RAS = {1: np.array([30.0, 0, 0]), 2: np.array([0, 30.0, 0]), 3: np.array([0, 0, 30.0])}
MARKER_NAMES = {1: "right", 2: "anterior", 3: "superior"}
SIZE, SPACING, RADIUS = 40, 2.5, 7.0
EXPECTED_LETTERS = {  # edge -> letter, Slicer's display
    "axial": {"top": "A", "bottom": "P", "left": "R", "right": "L"},
    "coronal": {"top": "S", "bottom": "I", "left": "R", "right": "L"},
    "sagittal": {"top": "S", "bottom": "I", "left": "A", "right": "P"},
}


def rotation(axis: int, degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    i, j = [a for a in range(3) if a != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


GRIDS = {  # SimpleITK (LPS) direction matrices: column j = physical direction of index axis j
    "LPS": np.eye(3),
    "RAS": np.diag([-1.0, -1.0, 1.0]),
    "oblique": rotation(2, 20.0) @ rotation(0, 15.0),
    "permuted (sagittal acquisition)": np.array([[0, 0, 1.0], [1.0, 0, 0], [0, 1.0, 0]]),
    "flipped superior-inferior": np.diag([1.0, 1.0, -1.0]),
}


def marker_volume(direction: np.ndarray) -> tuple[sitk.Image, sitk.Image]:
    """An image and label map on a grid of ``direction`` centred on the patient origin, with a
    ball of label k (intensity 100 k) at each marker's physical position."""
    spacing = np.full(3, SPACING)
    centre_index = np.full(3, (SIZE - 1) / 2.0)
    origin = -direction @ (centre_index * spacing)
    k, j, i = np.meshgrid(*(np.arange(SIZE),) * 3, indexing="ij")
    index = np.stack([i, j, k], axis=-1).astype(float)  # (z, y, x, 3) as (i, j, k)
    lps = origin + (index * spacing) @ direction.T
    ras = lps * np.array([-1.0, -1.0, 1.0])
    label = np.zeros((SIZE,) * 3, np.uint8)
    for value, centre in MARKERS_RAS.items():
        label[np.linalg.norm(ras - centre, axis=-1) <= RADIUS] = value
    image_arr = (label.astype(np.float32) * 100.0) + 10.0
    images = []
    for arr in (image_arr, label):
        img = sitk.GetImageFromArray(arr)
        img.SetSpacing(spacing.tolist())
        img.SetOrigin(origin.tolist())
        img.SetDirection(direction.ravel().tolist())
        images.append(img)
    return images[0], images[1]


def write_case(folder, direction) -> tuple:
    image, label = marker_volume(direction)
    folder.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(folder / "image.nii.gz"))
    sitk.WriteImage(label, str(folder / "label.nii.gz"))
    return folder / "image.nii.gz", folder / "label.nii.gz"


def show(view: SliceView, v: ViewVolume) -> None:
    view.set_volume(
        v.image,
        v.spacing,
        v.label,
        LabelTable.from_names({1: "r", 2: "a", 3: "s"}),
        v.window,
        v.modality,
        v.origin,
        v.direction,
    )


def marker_screen_offset(view: SliceView, orientation: str, value: int) -> np.ndarray | None:
    """(x right, y up) of the marker's centroid relative to the screen centre, in pixels of the
    displayed slice, on the slice of this orientation where the marker is largest."""
    view.set_orientation(orientation)
    best, best_count = None, 0
    for index in range(view.slice_count):
        view.set_slice(index)
        shown = np.asarray(view.image_item.image)
        rows, cols = np.nonzero(np.isclose(shown, 100.0 * value + 10.0))
        if len(rows) > best_count:
            best_count = len(rows)
            h, w = shown.shape
            best = np.array([cols.mean() - (w - 1) / 2.0, (h - 1) / 2.0 - rows.mean()])
    return best


def expected_side(orientation: str, value: int) -> np.ndarray:
    x_axis, y_axis = SLICER_SCREEN_AXES[orientation]
    offset = MARKERS_RAS[value]
    return np.sign([float(offset @ x_axis), float(offset @ y_axis)])


@pytest.fixture
def view(qtbot):
    v = SliceView()
    qtbot.addWidget(v)
    v.resize(500, 500)
    v.show()
    return v


@pytest.mark.parametrize("grid", list(GRIDS))
def test_markers_land_where_slicer_shows_them(view, tmp_path, grid):
    image_path, label_path = write_case(tmp_path / "case", GRIDS[grid])
    show(view, load_files_for_view(image_path, label_path, "CT", "markers"))
    for orientation in SLICER_SCREEN_AXES:
        for value in MARKERS_RAS:
            if MARKERS_RAS[value][PLANE_NORMAL_RAS[orientation]] != 0:
                continue  # this marker lies off the plane's centre line: it is the slice position
            seen = marker_screen_offset(view, orientation, value)
            assert seen is not None, (
                f"{grid}: the {MARKER_NAMES[value]} marker is not on any {orientation} slice"
            )
            want = expected_side(orientation, value)
            for axis, name in ((0, "horizontal"), (1, "vertical")):
                if want[axis] == 0:  # on the centre line (an oblique grid tilts it by its angle)
                    assert abs(seen[axis]) < 0.6 * abs(seen[1 - axis]), (
                        f"{grid} {orientation}: the {MARKER_NAMES[value]} marker is off centre {name}ly"
                    )
                else:
                    assert np.sign(seen[axis]) == want[axis] and abs(seen[axis]) > 5, (
                        f"{grid} {orientation}: the {MARKER_NAMES[value]} marker is on the wrong side "
                        f"({name} offset {seen[axis]:+.1f} px, Slicer shows it at {want[axis]:+.0f})"
                    )
        letters = {edge: view.annotations.edges[edge].text() for edge in EXPECTED_LETTERS[orientation]}
        assert letters == EXPECTED_LETTERS[orientation], f"{grid} {orientation}"


def test_sagittal_shows_the_face_on_the_left(view, tmp_path):
    """The issue's own words: anterior on the screen's left, superior up."""
    image_path, label_path = write_case(tmp_path / "case", GRIDS["LPS"])
    show(view, load_files_for_view(image_path, label_path, "CT", "markers"))
    anterior = marker_screen_offset(view, "sagittal", 2)
    superior = marker_screen_offset(view, "sagittal", 3)
    assert anterior[0] < -5 and superior[1] > 5
    assert view.annotations.edges["left"].text() == "A"


def test_gallery_compare_and_thumbnail_use_the_same_orientation(qtbot, tmp_path):
    pane = ComparePane()
    qtbot.addWidget(pane)
    pane.resize(900, 500)
    pane.show()
    real = load_files_for_view(*write_case(tmp_path / "real", GRIDS["LPS"]), "CT", "real")
    synthetic_paths = write_case(tmp_path / "syn_0001", GRIDS["RAS"])  # a sample on a RAS grid
    synthetic = load_files_for_view(*synthetic_paths, "CT", "syn")
    table = LabelTable.from_names({1: "r", 2: "a", 3: "s"})
    pane.show_comparison(synthetic, real, "Synthetic", "Real source", table)
    for side in (pane.view.left, pane.view.right):
        assert marker_screen_offset(side, "sagittal", 2)[0] < -5  # anterior left on both sides
        assert marker_screen_offset(side, "axial", 1)[0] < -5  # patient right on screen left
    item = GalleryItem(
        "syn_0001", tmp_path / "syn_0001", {"modality": "CT", "label_source": {"kind": "train"}}
    )
    thumb = jobs.make_thumbnail(item)  # the middle axial slice, as drawn
    rows, cols = np.nonzero(thumb.label == 1)
    assert cols.mean() < thumb.label.shape[1] / 2  # patient right on the left of the thumbnail
    rows, cols = np.nonzero(thumb.label == 2)
    assert rows.mean() < thumb.label.shape[0] / 2  # anterior at the top
