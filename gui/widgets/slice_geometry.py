"""How a (z, y, x) volume is cut into axial, coronal and sagittal slices and laid out on screen.

Pure NumPy, no Qt: the slice view asks this module which array axis a view cuts, which array axes
run along the screen rows and columns, whether they are flipped, and what the edge letters are.

Conventions (those of 3D Slicer):

- Physical space is LPS, as SimpleITK reports it: +x = patient Left, +y = Posterior, +z = Superior.
  ``direction`` is the 3x3 SimpleITK direction matrix: column j is the physical direction of index
  axis j (i = x, j = y, k = z). Array axes are (z, y, x), so array axis a is index axis 2 - a.
- Screen layout: Slicer's presets (``vtkMRMLSliceNode::Get{Axial,Coronal,Sagittal}SliceToRASMatrix``,
  whose first column is where screen x points, the second where screen y (up) points):
    axial:    x -> patient Left, y -> Anterior:  top = A, left = R, right = L (looking up from the feet)
    coronal:  x -> patient Left, y -> Superior:  top = S, left = R, right = L (facing the patient)
    sagittal: x -> Posterior,    y -> Superior:  top = S, left = A, right = P (the face looks left,
              as Slicer and ITK-SNAP show it)
- Oblique volumes are shown along their closest patient axes (no resampling); the letters name
  the closest axis, as Slicer does for a volume shown in its own frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ORIENTATIONS = ("axial", "coronal", "sagittal")

# Patient axes in LPS: 0 = x (R -> L), 1 = y (A -> P), 2 = z (I -> S).
_LETTERS = {(0, 1): "L", (0, -1): "R", (1, 1): "P", (1, -1): "A", (2, 1): "S", (2, -1): "I"}

# orientation -> (normal patient axis, (row axis, row sign), (column axis, column sign))
# A row sign of +1 means the screen row index grows toward +axis (downward on screen).
_LAYOUT = {
    "axial": (2, (1, +1), (0, +1)),  # rows run A -> P, columns R -> L
    "coronal": (1, (2, -1), (0, +1)),  # rows run S -> I, columns R -> L
    "sagittal": (0, (2, -1), (1, +1)),  # rows run S -> I, columns A -> P
}

# The slice position is reported along the RAS axis named here (Slicer's "S: 12.5mm" style).
_RAS_NAME = {0: "R", 1: "A", 2: "S"}
_LPS_TO_RAS_SIGN = {0: -1.0, 1: -1.0, 2: 1.0}


def index_axes_to_patient(direction: np.ndarray | None) -> tuple[list[int], list[int]]:
    """For each index axis (i, j, k): the closest patient axis (0, 1, 2 = LR, AP, SI) and its sign.

    Falls back to the identity when the direction is missing or two index axes are equally close
    to the same patient axis (a 45-degree oblique): the picture is still drawn, only the letters
    may be off by a rotation, as in any viewer that does not resample.
    """
    if direction is None:
        return [0, 1, 2], [1, 1, 1]
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    axes = [int(np.argmax(np.abs(d[:, j]))) for j in range(3)]
    if sorted(axes) != [0, 1, 2]:
        return [0, 1, 2], [1, 1, 1]
    signs = [1 if d[axes[j], j] >= 0 else -1 for j in range(3)]
    return axes, signs


@dataclass(frozen=True)
class SliceLayout:
    """Where one orientation's slices come from in the (z, y, x) array and how they are drawn."""

    orientation: str
    slice_axis: int  # array axis the view cuts through (0 = z, 1 = y, 2 = x)
    row_axis: int  # array axis along the screen rows (top to bottom)
    col_axis: int  # array axis along the screen columns (left to right)
    flip_rows: bool  # True: array index decreases down the screen
    flip_cols: bool
    row_spacing: float  # mm per screen row
    col_spacing: float  # mm per screen column
    slice_spacing: float
    letters: dict[str, str]  # edge -> patient letter: {"top": "A", "bottom": "P", ...}
    position_name: str  # the RAS axis named in the position readout: "S", "A" or "R"

    def extract(self, volume: np.ndarray, index: int) -> np.ndarray:
        """One slice as drawn on screen (rows top to bottom), C-contiguous. O(one slice)."""
        cut: list[slice | int] = [slice(None)] * 3
        cut[self.slice_axis] = int(index)
        plane = volume[tuple(cut)]  # a view; remaining axes keep their order
        remaining = [a for a in range(3) if a != self.slice_axis]
        if remaining.index(self.row_axis) != 0:
            plane = plane.T
        if self.flip_rows:
            plane = plane[::-1, :]
        if self.flip_cols:
            plane = plane[:, ::-1]
        return np.ascontiguousarray(plane)

    def shape_on_screen(self, volume_shape: tuple[int, int, int]) -> tuple[int, int]:
        return volume_shape[self.row_axis], volume_shape[self.col_axis]

    def voxel_at(self, volume_shape: tuple[int, int, int], index: int, row: int, col: int) -> tuple[int, ...]:
        """The (z, y, x) array index under screen pixel (row, col) of slice ``index``."""
        voxel = [0, 0, 0]
        voxel[self.slice_axis] = int(index)
        n_rows, n_cols = self.shape_on_screen(volume_shape)
        voxel[self.row_axis] = n_rows - 1 - row if self.flip_rows else row
        voxel[self.col_axis] = n_cols - 1 - col if self.flip_cols else col
        return tuple(voxel)


def layout_for(
    orientation: str, spacing: tuple[float, float, float], direction: np.ndarray | None = None
) -> SliceLayout:
    """The layout of ``orientation`` for a volume of ``spacing`` (sx, sy, sz) and ``direction``."""
    if orientation not in _LAYOUT:
        raise ValueError(f"Unknown orientation {orientation!r}; use one of {', '.join(ORIENTATIONS)}.")
    patient_of_index, sign_of_index = index_axes_to_patient(direction)

    def array_axis_for(patient_axis: int) -> tuple[int, int]:
        j = patient_of_index.index(patient_axis)
        return 2 - j, sign_of_index[j]

    normal, (row_patient, row_sign), (col_patient, col_sign) = _LAYOUT[orientation]
    slice_axis, _ = array_axis_for(normal)
    row_axis, row_index_sign = array_axis_for(row_patient)
    col_axis, col_index_sign = array_axis_for(col_patient)
    letters = {
        "top": _LETTERS[(row_patient, -row_sign)],
        "bottom": _LETTERS[(row_patient, row_sign)],
        "left": _LETTERS[(col_patient, -col_sign)],
        "right": _LETTERS[(col_patient, col_sign)],
    }
    sp = [float(s) for s in spacing]  # (sx, sy, sz) = index axes; array axis a is index axis 2 - a
    return SliceLayout(
        orientation=orientation,
        slice_axis=slice_axis,
        row_axis=row_axis,
        col_axis=col_axis,
        flip_rows=row_index_sign != row_sign,
        flip_cols=col_index_sign != col_sign,
        row_spacing=sp[2 - row_axis],
        col_spacing=sp[2 - col_axis],
        slice_spacing=sp[2 - slice_axis],
        letters=letters,
        position_name=_RAS_NAME[normal],
    )


def slice_position_mm(
    layout: SliceLayout,
    volume_shape: tuple[int, int, int],
    index: int,
    spacing: tuple[float, float, float],
    origin: tuple[float, float, float],
    direction: np.ndarray | None,
) -> float:
    """The RAS coordinate (mm) of the centre of slice ``index`` along the view's normal axis."""
    ijk = np.array([(volume_shape[2 - j] - 1) / 2.0 for j in range(3)], dtype=float)
    ijk[2 - layout.slice_axis] = index
    d = np.eye(3) if direction is None else np.asarray(direction, dtype=float).reshape(3, 3)
    point = np.asarray(origin, dtype=float) + d @ (ijk * np.asarray(spacing, dtype=float))
    normal = {"R": 0, "A": 1, "S": 2}[layout.position_name]
    return float(point[normal] * _LPS_TO_RAS_SIGN[normal])


def position_text(layout: SliceLayout, *args) -> str:
    """The position line of the corner text, Slicer style: ``S 12.5 mm`` (arguments as
    ``slice_position_mm`` after the layout)."""
    text = f"{layout.position_name} {slice_position_mm(layout, *args):.1f} mm"
    return text.replace(" -0.0 ", " 0.0 ")
