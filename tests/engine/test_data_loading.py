"""Loading, intensity normalisation, label remapping and the preprocessing cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

import engine.data.cache as cache_module
from engine.data import LabelTable, discover
from engine.data.cache import PreprocessParams, prepare_cases
from engine.data.loading import load_case
from engine.data.normalization import IntensityNormalization, guess_modality
from engine.errors import ConfigError, DataError
from tests.engine.data_factory import phantom, phantom_label, write_volume

SHAPE = (6, 20, 16)


def test_ct_map_keeps_the_full_hu_range_and_inverts():
    # issue 12: -1024..3071 HU through a piecewise-linear map (was a -1000..1000 HU window, which
    # clipped bone, contrast and metal), soft tissue more finely resolved than before
    norm = IntensityNormalization("CT")
    assert norm.fit("c1", np.zeros(3, np.float32)) == (-1024.0, 3071.0)
    hu = np.array([-3000.0, -1024.0, -1000.0, -500.0, -200.0, 0.0, 40.0, 300.0, 1000.0, 3000.0, 3071.0, 5000.0])
    x = norm.forward(hu.astype(np.float32), norm.cases["c1"])
    assert x.dtype == np.float32 and np.all(np.diff(x) >= 0)
    assert (x[0], x[1], x[-2], x[-1]) == (-1.0, -1.0, 1.0, 1.0)  # clipped only outside -1024..3071
    np.testing.assert_allclose(x[[4, 7]], [-0.4, 0.4], atol=1e-6)
    inside = hu[1:-1]
    np.testing.assert_allclose(norm.inverse(norm.forward(inside)), inside, atol=0.05)
    # soft tissue: 6.25 HU per 0.01 of the output (the old window: 10 HU)
    step = float(norm.inverse(np.float32(0.01)) - norm.inverse(np.float32(0.0)))
    assert step == pytest.approx(6.25, abs=0.01)
    # bone keeps its value: cortical bone and metal are not cut at 1000 HU any more
    assert float(norm.inverse(norm.forward(np.float32(2500.0)))) == pytest.approx(2500.0, abs=0.5)
    # what a run stores can be read back and inverts the same way
    again = IntensityNormalization.from_json(json.loads(json.dumps(norm.to_json())))
    assert again.reference == (-1024.0, 3071.0) and again.to_json()["method"] == "piecewise_linear"
    assert again.cases == {"c1": (-1024.0, 3071.0)}
    np.testing.assert_array_equal(again.forward(hu), norm.forward(hu))
    # a run written with the old window still loads and maps back linearly
    old = IntensityNormalization.from_json(
        {"modality": "CT", "method": "window", "ct_window": [-1000.0, 1000.0], "cases": {"c": [-1000.0, 1000.0]}}
    )
    assert float(old.inverse(np.float32(0.5))) == pytest.approx(500.0)


def test_mr_percentiles_per_volume_keep_the_bright_tail():
    norm = IntensityNormalization("MR", mr_percentiles=(1.0, 99.0))
    a = np.linspace(0.0, 1000.0, 100_001, dtype=np.float32)
    b = a * 3.0 + 50.0
    la, ha, ta = norm.fit("a", a)
    lb, hb, tb = norm.fit("b", b)
    assert (la, ha, ta) == pytest.approx((10.0, 990.0, 1000.0), abs=0.1)
    assert (lb, hb, tb) == pytest.approx((80.0, 3020.0, 3050.0), abs=0.3)
    xa = norm.forward(a, (la, ha, ta))
    assert xa.min() == -1.0 and xa.max() == pytest.approx(1.0)
    assert float(norm.forward(np.float32(500.0), (la, ha, ta))) == pytest.approx(-1 + 1.6 * 490 / 980, abs=1e-4)
    # the brightest percent is not clipped: 990..1000 spreads over 0.6..1
    tail = norm.forward(np.float32(995.0), (la, ha, ta))
    assert float(tail) == pytest.approx(0.8, abs=0.01)
    mid = a[a > la]
    np.testing.assert_allclose(norm.inverse(norm.forward(mid, (la, ha, ta)), (la, ha, ta)), mid, rtol=1e-5, atol=1e-3)
    assert norm.reference == pytest.approx(((la + lb) / 2, (ha + hb) / 2, (ta + tb) / 2))
    again = IntensityNormalization.from_json(json.loads(json.dumps(norm.to_json())))
    assert again.reference == pytest.approx(norm.reference) and again.to_json()["method"] == "percentile_tail"


def test_normalization_rejects_bad_settings_and_guesses_modality():
    with pytest.raises(ConfigError):
        IntensityNormalization("PET")
    with pytest.raises(ConfigError, match="rising"):
        IntensityNormalization("CT", ct_knots=((100.0, -1.0), (-100.0, 1.0)))
    with pytest.raises(ConfigError, match="percentiles"):
        IntensityNormalization("MR", mr_percentiles=(99.0, 1.0))
    assert guess_modality(phantom(SHAPE, "CT").astype(np.float32)) == "CT"
    assert guess_modality(phantom(SHAPE, "MR").astype(np.float32)) == "MR"


def test_label_table_remaps_to_consecutive_classes_and_back():
    table = LabelTable.from_names({0: "background", 3: "liver", 7: "lesion"})
    table.ensure([12])
    stored = np.array([[0, 3], [7, 12]], np.uint16)
    classes = table.to_classes(stored)
    np.testing.assert_array_equal(classes, [[0, 1], [2, 3]])
    np.testing.assert_array_equal(table.to_values(classes), stored)
    assert table.num_classes == 4 and table.name(12) == "label 12" and table.class_of(7) == 2
    with pytest.raises(DataError, match=r"\[13\]"):
        table.to_classes(np.array([13]))
    with pytest.raises(DataError, match=r"\[5\]"):  # inside the range, still not in the table
        table.to_classes(np.array([0, 5, 7]))
    with pytest.raises(DataError):
        table.add(-1)
    assert LabelTable.from_json(table.to_json()).names_by_value() == table.names_by_value()


def _dataset(root: Path, cases: dict[str, dict]) -> None:
    for name, geo in cases.items():
        values = geo.pop("values", (1, 2))
        image, label = geo.pop("image", phantom(SHAPE)), geo.pop("label", phantom_label(SHAPE, values))
        write_volume(root / f"{name}.nii.gz", image, **geo)
        write_volume(root / f"{name}_seg.nii.gz", label, **geo)


def _mtimes(prepared) -> dict[str, int]:
    return {
        f"{v.case_id}/{n}": (v.folder / n).stat().st_mtime_ns
        for v in prepared.volumes
        for n in ("image.npy", "label.npy", "meta.json")
    }


def test_cache_is_built_once_and_reused(tmp_path, monkeypatch):
    root, cache = tmp_path / "data", tmp_path / "cache"
    _dataset(root, {"a": {"spacing": (1.0, 1.0, 2.0)}, "b": {"spacing": (1.0, 1.0, 2.0), "values": (1, 5)}})
    result = discover(root)
    params = PreprocessParams(image_size=32)
    first = prepare_cases(result.cases, result.label_table, params, cache_dir=cache)
    before = _mtimes(first)
    entries = sorted(p.name for p in cache.iterdir())
    assert len(entries) == 2 and not any(n.startswith(".") for n in entries)  # no temporary folders left

    loads = []
    real_load = cache_module.load_case
    monkeypatch.setattr(
        cache_module, "load_case", lambda case, **kw: loads.append(case.id) or real_load(case, **kw)
    )
    second = prepare_cases(discover(root).cases, result.label_table, params, cache_dir=cache)
    assert loads == []  # nothing read again
    assert _mtimes(second) == before
    assert [v.folder for v in second.volumes] == [v.folder for v in first.volumes]

    # other parameters, or a changed file: a new entry, the old one untouched
    prepare_cases(
        result.cases,
        result.label_table,
        PreprocessParams(image_size=32, in_plane_spacing=2.0),
        cache_dir=cache,
    )
    assert sorted(loads) == ["a", "b"]
    loads.clear()
    write_volume(root / "a_seg.nii.gz", phantom_label(SHAPE, (2, 1)), spacing=(1.0, 1.0, 2.0))
    changed = prepare_cases(discover(root).cases, result.label_table, params, cache_dir=cache)
    assert loads == ["a"]  # only the changed case is read again
    assert len(list(cache.iterdir())) == 2 + 2 + 1
    assert changed.volumes[1].folder == first.volumes[1].folder
    assert changed.volumes[0].folder != first.volumes[0].folder


def test_cache_orients_to_lps_so_flipped_storage_gives_the_same_arrays(tmp_path):
    img, lab = phantom(SHAPE, seed=3), phantom_label(SHAPE, (3, 7))
    sp, org = (1.0, 1.5, 2.0), (10.0, 20.0, 30.0)
    write_volume(tmp_path / "lps" / "x.nii.gz", img, sp, org)
    write_volume(tmp_path / "lps" / "x_seg.nii.gz", lab, sp, org)
    # the same voxels in space, stored right-to-left / anterior-to-posterior (RAS-like)
    ras_dir, ras_org = (-1, 0, 0, 0, -1, 0, 0, 0, 1), (10.0 + 15 * 1.0, 20.0 + 19 * 1.5, 30.0)
    write_volume(tmp_path / "ras" / "x.nii.gz", img[:, ::-1, ::-1], sp, ras_org, ras_dir)
    write_volume(tmp_path / "ras" / "x_seg.nii.gz", lab[:, ::-1, ::-1], sp, ras_org, ras_dir)
    # and head-first slices stored top down
    z_dir, z_org = (1, 0, 0, 0, 1, 0, 0, 0, -1), (10.0, 20.0, 30.0 + 5 * 2.0)
    write_volume(tmp_path / "zdown" / "x.nrrd", img[::-1], sp, z_org, z_dir)
    write_volume(tmp_path / "zdown" / "x_seg.nrrd", lab[::-1], sp, z_org, z_dir)

    arrays = []
    for name in ("lps", "ras", "zdown"):
        result = discover(tmp_path / name)
        prepared = prepare_cases(
            result.cases,
            result.label_table,
            PreprocessParams(image_size=32),
            cache_dir=tmp_path / f"cache_{name}",
        )
        vol = prepared.volumes[0]
        assert np.allclose(vol.geometry.direction, np.eye(3).ravel())
        arrays.append((np.array(vol.image()), np.array(vol.label()), vol.geometry))
    for image, label, geometry in arrays[1:]:
        np.testing.assert_array_equal(image, arrays[0][0])
        np.testing.assert_array_equal(label, arrays[0][1])
        assert np.allclose(geometry.origin, arrays[0][2].origin)
    assert sorted(np.unique(arrays[0][1])) == [0, 1, 2]  # values 0, 3, 7 -> classes 0, 1, 2


def test_cache_resamples_in_plane_to_a_common_spacing_and_normalises(tmp_path):
    fine = np.kron(phantom((4, 10, 8)), np.ones((1, 2, 2), np.int16))  # 20x16 at 0.5 mm
    fine_label = np.kron(phantom_label((4, 10, 8)), np.ones((1, 2, 2), np.uint8))
    _dataset(
        tmp_path / "data",
        {
            "fine": {
                "spacing": (0.5, 0.5, 3.0),
                "image": fine,
                "label": fine_label,
                "origin": (-0.25, -0.25, 0.0),
            },
            "coarse": {
                "spacing": (1.0, 1.0, 3.0),
                "image": phantom((4, 10, 8)),
                "label": phantom_label((4, 10, 8)),
            },
        },
    )
    result = discover(tmp_path / "data")
    assert all(c.usable for c in result.cases), [c.error for c in result.cases]
    prepared = prepare_cases(
        result.cases,
        result.label_table,
        PreprocessParams(in_plane_spacing=1.0),
        cache_dir=tmp_path / "cache",
        modality="CT",
    )
    assert prepared.spacing == 1.0
    vols = {v.case_id: v for v in prepared.volumes}
    for v in vols.values():
        assert v.shape == (4, 10, 8)
        assert v.geometry.spacing == (1.0, 1.0, 3.0)
        assert v.image().dtype == np.float16 and v.label().dtype == np.uint8
    np.testing.assert_allclose(vols["fine"].geometry.origin, vols["coarse"].geometry.origin, atol=1e-6)
    np.testing.assert_array_equal(vols["fine"].label(), vols["coarse"].label())
    expected = IntensityNormalization("CT").forward(phantom((4, 10, 8)))
    np.testing.assert_allclose(vols["coarse"].image().astype(np.float32), expected, atol=2e-3)
    np.testing.assert_allclose(vols["fine"].image().astype(np.float32), expected, atol=2e-3)
    # per slice, which classes it holds (for class-balanced sampling)
    assert vols["coarse"].presence.shape == (4, 3) and vols["coarse"].presence.all()
    # what the run stores maps synthetic images back to HU
    assert prepared.normalization.to_json()["reference"] == [-1024.0, 3071.0]


def test_load_case_gives_float_image_and_stored_label_values(tmp_path):
    _dataset(tmp_path, {"k": {"spacing": (0.7, 0.7, 2.0), "values": (4, 9)}})
    case = discover(tmp_path).cases[0]
    loaded = load_case(case)
    assert loaded.image.GetPixelID() == sitk.sitkFloat32
    np.testing.assert_array_equal(sitk.GetArrayFromImage(loaded.image), phantom(SHAPE).astype(np.float32))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(loaded.label), phantom_label(SHAPE, (4, 9)))
    assert loaded.notes == []


def test_prepare_cases_skips_nothing_silently(tmp_path):
    _dataset(tmp_path / "data", {"a": {}})
    result = discover(tmp_path / "data")
    with pytest.raises(DataError, match="No usable labeled case"):
        prepare_cases(
            [c for c in result.cases if c.label is None],
            result.label_table,
            PreprocessParams(),
            cache_dir=tmp_path / "cache",
        )


def test_label_values_missing_from_the_table_are_a_clear_error(tmp_path):
    _dataset(tmp_path / "data", {"q": {"values": (1, 6)}})
    quick = discover(tmp_path / "data", verify=False)  # headers only: the label values are not known
    assert quick.cases[0].usable and quick.label_table.values == [0]
    with pytest.raises(DataError, match=r"q_seg\.nii\.gz.*\[1, 6\].*not --quick"):
        prepare_cases(quick.cases, quick.label_table, PreprocessParams(), cache_dir=tmp_path / "cache")
