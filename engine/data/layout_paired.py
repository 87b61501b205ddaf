"""Paired ``images/`` + ``labels/`` folders: which label file belongs to which image.

Exact names first: ``images/head_ct.nii.gz`` pairs with ``labels/head_ct.nii.gz`` and is case
``head_ct``, whatever tokens its name holds. Only images and labels left over are then matched by
the naming rules (``case1_0000`` + ``case1``, ``case2_image`` + ``case2_label``, ``case3`` +
``case3_seg``). Every image becomes a case, with or without a label; every label left over is
reported. Nothing in either folder disappears.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.data.naming import image_key, label_key


@dataclass
class PairedMatch:
    case_id: str
    image: object  # the caller's entry for the image
    label: object | None
    how: str  # "exact" | "exact (letter case)" | "naming rule" | "none"


def match_paired(
    images: list[tuple[str, object]], labels: list[tuple[str, object]]
) -> tuple[list[PairedMatch], list[object]]:
    """Match (name, entry) images with (name, entry) labels; names are file stems or case folder
    names. Returns the matches (one per image, in the order given) and the labels left over."""
    taken: set[int] = set()
    chosen: dict[int, tuple[int, str, str]] = {}  # image index -> (label index, case id, how)

    def first_free(wanted: str, key, pool: range) -> int | None:
        for j in pool:
            if j not in taken and key(j) == wanted:
                return j
        return None

    rules = (
        ("exact", lambda name: name, lambda j: labels[j][0]),
        ("exact (letter case)", str.lower, lambda j: labels[j][0].lower()),
    )
    for how, norm, key in rules:
        for i, (name, _) in enumerate(images):
            if i in chosen:
                continue
            j = first_free(norm(name), key, range(len(labels)))
            if j is not None:
                taken.add(j)
                chosen[i] = (j, name, how)
    # the naming rules, only for what is left: the image's name without an image token
    # ('_0000', '_image', '_ct') against the label's name without a label token ('_seg', '_label')
    for i, (name, _) in enumerate(images):
        if i in chosen:
            continue
        ikey = image_key(name)
        for wanted, case_id in ((ikey.lower(), ikey), (name.lower(), name)):
            j = first_free(wanted, lambda j: label_key(labels[j][0]).lower(), range(len(labels)))
            if j is None and wanted != name.lower():
                j = first_free(wanted, lambda j: labels[j][0].lower(), range(len(labels)))
            if j is not None:
                taken.add(j)
                chosen[i] = (j, case_id, "naming rule")
                break
    matches = []
    for i, (name, entry) in enumerate(images):
        if i in chosen:
            j, case_id, how = chosen[i]
            matches.append(PairedMatch(case_id, entry, labels[j][1], how))
        else:
            matches.append(PairedMatch(name, entry, None, "none"))
    left = [entry for j, (_, entry) in enumerate(labels) if j not in taken]
    return matches, left
