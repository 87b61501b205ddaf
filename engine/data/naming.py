"""File names to roles: is this file an image or a label map, and which case is it?

'case7_seg.nii.gz' -> (label, 'case7'); 'case7_0000.nii.gz' -> (image, 'case7');
'Segmentation.seg.nrrd' -> (label, 'Segmentation'); 'imaging.nii.gz' -> (image, '') (the folder names the case).
"""

from __future__ import annotations

import re

from engine.data.formats import strip_extensions

LABEL_TOKENS = {
    "label", "labels", "seg", "segs", "segmentation", "segmentations", "mask", "masks", "gt",
    "groundtruth", "labelmap", "annotation", "annotations", "lbl", "truth",
}
IMAGE_TOKENS = {"image", "images", "img", "imaging", "volume", "vol", "scan", "0000", "data", "orig"}
MODALITY_TOKENS = {"ct": "CT", "mr": "MR", "mri": "MR", "t1": "MR", "t2": "MR", "flair": "MR", "t1w": "MR", "t2w": "MR"}

IMAGE_DIRS = ("images", "image", "imagestr", "imgs", "img", "volumes", "scans", "ct", "mr", "mri")
LABEL_DIRS = (
    "labels", "label", "labelstr", "masks", "mask", "segmentations", "segmentation", "segs", "seg",
    "gt", "ground_truth", "groundtruth", "annotations",
)

_SPLIT = re.compile(r"[_\-. ]+")


def role_and_key(filename: str) -> tuple[str | None, str]:
    """(role, case key). role is 'label', 'image' or None (no telling token)."""
    stem = strip_extensions(filename)
    tokens = [t for t in _SPLIT.split(stem) if t]
    if not tokens:
        return None, stem
    lowered = [t.lower() for t in tokens]
    last = lowered[-1]
    if last in LABEL_TOKENS:
        return "label", _join_key(stem, tokens[:-1])
    if last in IMAGE_TOKENS or re.fullmatch(r"000\d", last):
        return "image", _join_key(stem, tokens[:-1])
    if last in MODALITY_TOKENS and len(tokens) > 1:
        return "image", _join_key(stem, tokens[:-1])
    if len(tokens) == 1 and last in MODALITY_TOKENS:
        return "image", ""
    if lowered[0] in LABEL_TOKENS and len(tokens) > 1:  # 'seg_case7', 'label-case7'
        return "label", _join_key(stem, tokens[1:])
    return None, stem


def image_key(stem: str) -> str:
    """The stem without a trailing image token ('case1_0000' -> 'case1', 'case2_image' -> 'case2');
    a label token is never cut (an image called 'float_label' keeps its name)."""
    tokens = [t for t in _SPLIT.split(stem) if t]
    last = tokens[-1].lower() if tokens else ""
    if len(tokens) > 1 and (last in IMAGE_TOKENS or last in MODALITY_TOKENS or re.fullmatch(r"000\d", last)):
        return _join_key(stem, tokens[:-1])
    return stem


def label_key(stem: str) -> str:
    """The stem without a label token ('case1_seg' -> 'case1', 'seg_case7' -> 'case7')."""
    tokens = [t for t in _SPLIT.split(stem) if t]
    if len(tokens) > 1 and tokens[-1].lower() in LABEL_TOKENS:
        return _join_key(stem, tokens[:-1])
    if len(tokens) > 1 and tokens[0].lower() in LABEL_TOKENS:
        return _join_key(stem, tokens[1:])
    return stem


def _join_key(stem: str, tokens: list[str]) -> str:
    """The stem with the role token cut off, keeping the original separators."""
    if not tokens:
        return ""
    # cut the stem right after the last kept token, or right before the first kept token
    first, last = tokens[0], tokens[-1]
    start = stem.find(first)
    end = stem.rfind(last) + len(last)
    return stem[start:end] if start >= 0 and end > start else "_".join(tokens)


def modality_from_name(name: str) -> str | None:
    for token in _SPLIT.split(strip_extensions(name).lower()):
        if token in MODALITY_TOKENS:
            return MODALITY_TOKENS[token]
    return None


def modality_from_channel_name(name: str | None) -> str | None:
    """nnU-Net channel_names / MSD modality values -> 'CT' | 'MR' | None."""
    if not name:
        return None
    n = str(name).strip().lower()
    if n in ("ct", "cta", "cbct", "ct_hu"):
        return "CT"
    mr_words = ("mr", "mri", "t1", "t2", "flair", "adc", "dwi", "pd", "swi", "dixon", "bold", "t1c", "t1gd")
    if n in mr_words or any(n.startswith(w) for w in ("t1", "t2", "mr", "flair")):
        return "MR"
    return None
