"""The fast BINARY SEG (engine/export/seg_encoder.py) against highdicom's own build of the same
segmentation: attribute by attribute, frame by frame (functional groups and pixels), and byte for
byte; and the fallback to highdicom when the fast path cannot reproduce its frames."""

from __future__ import annotations

import io

import highdicom as hd
import numpy as np
import pydicom
import pytest

from engine.export import dicom_seg, dicom_series, seg_encoder
from engine.export.dicom_header import CaseIdentity, Provenance
from engine.export.uids import CaseUIDs
from engine.export.volume import prepare_case
from tests.engine.export_helpers import case, error_lines, oblique_direction, run, table, tool

VARIANTS = {
    # name: (case kwargs, label table)
    "ct_oblique_3_labels": ({}, {0: "background", 1: "liver", 2: "kidney", 3: "tumour"}),
    "mr_left_handed": (
        {"modality": "MR", "direction": oblique_direction(30, left_handed=True)},
        {0: "background", 1: "grey matter", 2: "white matter", 3: "CSF"},
    ),
    "one_label": ({"values": (1,)}, {0: "background", 1: "liver"}),
    "values_with_gaps": ({"values": (2, 7)}, {0: "background", 2: "liver", 7: "spleen"}),
    "frames_not_byte_aligned": (
        {"size_xyz": (13, 11, 7)},
        {0: "background", 1: "liver", 2: "kidney", 3: "tumour", 4: "lesion"},  # 4: an empty segment
    ),
    "axial_one_slice": (
        {"size_xyz": (16, 16, 1), "values": (1,), "direction": (1, 0, 0, 0, 1, 0, 0, 0, 1)},
        {0: "background", 1: "liver"},
    ),
}


def _prepared(tmp_path, kwargs, names):
    kwargs = dict(kwargs)
    modality = kwargs.pop("modality", "CT")
    labels = table(names)
    prepared = prepare_case(case("syn_0001", modality, **kwargs), labels)
    uids = CaseUIDs.mint(prepared.n_slices)
    who = CaseIdentity(
        "syn_0001", "SYN-AB-0001", "SYNTHETIC^syn_0001", uids.study, uids.frame_of_reference, "SV1"
    )
    prov = Provenance(checkpoint_id="cd" * 32, label_source="train")
    folder = tmp_path / "dicom"
    headers = dicom_series.write_series(folder / "CT_1", prepared, who, uids, prov, lambda p: None)
    return prepared, headers, who, uids, prov, labels, folder


def _reference_bytes(reference: pydicom.Dataset, fast: pydicom.Dataset) -> bytes:
    """highdicom's build written by pydicom, with the one UID each build mints for itself aligned."""
    uid = fast.DimensionOrganizationSequence[0].DimensionOrganizationUID
    assert reference.DimensionOrganizationSequence[0].DimensionOrganizationUID != uid
    for item in (*reference.DimensionOrganizationSequence, *reference.DimensionIndexSequence):
        item.DimensionOrganizationUID = uid
    out = io.BytesIO()
    reference.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_fast_seg_equals_highdicoms_own_build(tmp_path, variant):
    kwargs, names = VARIANTS[variant]
    prepared, headers, who, uids, prov, labels, folder = _prepared(tmp_path, kwargs, names)
    numbers = dicom_seg.segment_numbers(labels)
    request = dicom_seg.SegRequest(prepared, headers, who, uids, prov, labels)
    builder = dicom_seg._builder(request)
    segment_map = dicom_seg._segment_number_map(prepared.label, numbers)
    assert (
        seg_encoder.encode(headers, segment_map, sorted(numbers.values()), builder) is not None
    )  # fast path

    path = dicom_seg.write_case_seg(folder / "SEG_100", request)
    reference = dicom_seg.build_seg(request)
    fast = pydicom.dcmread(path)
    n_frames = len(numbers) * prepared.n_slices
    assert int(fast.NumberOfFrames) == int(reference.NumberOfFrames) == n_frames

    # attribute by attribute, both as read back from their bytes (the two builds differ only in
    # the DimensionOrganizationUID each mints for itself, aligned here)
    reference_bytes = _reference_bytes(reference, fast)
    theirs = pydicom.dcmread(io.BytesIO(reference_bytes))
    assert [e.tag for e in fast] == [e.tag for e in theirs]
    for elem in theirs:
        if elem.keyword not in ("PerFrameFunctionalGroupsSequence", "PixelData"):
            assert fast[elem.tag] == elem, elem.keyword
    assert fast.file_meta == theirs.file_meta

    # frame by frame: functional groups, then the pixels as highdicom decodes them from each file
    fast_frames, their_frames = fast.PerFrameFunctionalGroupsSequence, theirs.PerFrameFunctionalGroupsSequence
    assert len(fast_frames) == len(their_frames) == n_frames
    for i, (mine, other) in enumerate(zip(fast_frames, their_frames, strict=True)):
        assert mine == other, f"per-frame functional groups of frame {i + 1}"
    mine_seg, their_seg = hd.seg.Segmentation.from_dataset(fast), hd.seg.Segmentation.from_dataset(theirs)
    for frame in range(1, n_frames + 1):
        np.testing.assert_array_equal(mine_seg.get_stored_frame(frame), their_seg.get_stored_frame(frame))

    # and the whole file, byte for byte, but for one thing: pixel data of odd length (frames that do
    # not end on a byte) is padded with NUL as DICOM PS3.5 7.1.1 requires; highdicom pads with "0"
    ours = path.read_bytes()
    if (n_frames * prepared.pixels[0].size) % 16 in range(1, 9):
        assert (ours[-1:], reference_bytes[-1:]) == (b"\x00", b"0")
        ours, reference_bytes = ours[:-1], reference_bytes[:-1]
    assert ours == reference_bytes

    # highdicom decodes the fast SEG back to the label map
    decoded = hd.seg.segread(path).get_pixels_by_source_instance(
        source_sop_instance_uids=[h.SOPInstanceUID for h in headers],
        combine_segments=True,
        skip_overlap_checks=True,
    )
    np.testing.assert_array_equal(decoded, segment_map)
    assert not error_lines(run([tool("dciodvfy"), "-new", str(path)]))


def test_an_image_too_small_for_the_probe_falls_back_to_highdicom(tmp_path):
    names = {0: "background", 1: "liver", 2: "kidney", 3: "tumour", 4: "spleen", 5: "lesion"}
    prepared, headers, who, uids, prov, labels, folder = _prepared(
        tmp_path, {"size_xyz": (2, 2, 3), "values": (1,)}, names
    )
    numbers = dicom_seg.segment_numbers(labels)
    request = dicom_seg.SegRequest(prepared, headers, who, uids, prov, labels)
    builder = dicom_seg._builder(request)
    segment_map = dicom_seg._segment_number_map(prepared.label, numbers)
    assert (
        seg_encoder.encode(headers, segment_map, sorted(numbers.values()), builder) is None
    )  # 4 px < 5 segments

    path = dicom_seg.write_case_seg(folder / "SEG_100", request)
    reference = dicom_seg.build_seg(request)
    fast = pydicom.dcmread(path)
    assert path.read_bytes() == _reference_bytes(reference, fast)


def test_pack_frames_is_highdicoms_bit_order():
    rng = np.random.default_rng(1)
    segment_map = rng.integers(0, 3, (3, 5, 3), dtype=np.uint8)  # 15 pixels a frame: not byte aligned
    packed = seg_encoder.pack_frames(segment_map, [2, 0, 1], [1, 2])
    frames = np.stack([segment_map[[2, 0, 1]] == s for s in (1, 2)]).reshape(-1)
    bits = np.unpackbits(np.frombuffer(packed, np.uint8), bitorder="little")[: frames.size]
    np.testing.assert_array_equal(bits.astype(bool), frames)
    assert len(packed) % 2 == 0
