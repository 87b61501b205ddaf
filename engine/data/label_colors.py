"""A label's colour from its name, as 3D Slicer's GenericAnatomyColors gives it: bone is ivory and the
liver is liver-brown in every dataset, whatever number the label has there.

The table (resources/label_colors.json) maps structure names and their synonyms to colours. A name
is matched case-insensitively with ``_ - . /`` read as spaces and the words left/right ignored; the
longest known phrase inside the name wins, the earliest one on a tie ("lung upper lobe left" is a
lung, "necrotic tumor core" is necrosis). A name the table does not know takes the fallback
palette's colour for the label's number.
"""

from __future__ import annotations

import re
from functools import cache

from engine.resources import color_for_label, label_color_file, label_colors

RGB = tuple[int, int, int]
_SEPARATORS = re.compile(r"[\s_\-./,:;()]+")
_SIDES = {"left", "right", "l", "r", "lt", "rt", "links", "rechts", "sinister", "dexter"}
_GENERIC = re.compile(r"^(label|class|segment|region|structure)?\s*\d+$")


def words(name: str) -> tuple[str, ...]:
    """The words of a label name as the table matches them: lower case, no laterality."""
    tokens = [t for t in _SEPARATORS.split(str(name).lower()) if t]
    return tuple(t for t in tokens if t not in _SIDES)


@cache
def _phrases() -> dict[tuple[str, ...], RGB]:
    """Every known phrase (names and synonyms, as word tuples) -> its colour."""
    data = label_color_file()
    names = {words(k): tuple(int(c) for c in v) for k, v in data["names"].items()}
    out: dict[tuple[str, ...], RGB] = dict(names)  # type: ignore[arg-type]
    for synonym, target in data.get("synonyms", {}).items():
        colour = names.get(words(target))
        if colour is not None:
            out.setdefault(words(synonym), colour)
    return out


def color_for_name(name: str | None) -> RGB | None:
    """The table's colour for a structure name, or None when it names nothing the table knows."""
    if not name or _GENERIC.match(str(name).strip().lower()):
        return None
    tokens = words(name)
    if not tokens:
        return None
    phrases = _phrases()
    if tokens in phrases:
        return phrases[tokens]
    singular = tuple(t[:-1] if len(t) > 3 and t.endswith("s") else t for t in tokens)
    if singular in phrases:
        return phrases[singular]
    best: tuple[int, int, RGB] | None = None  # (-length, start, colour): longest, then earliest
    for seq in (tokens, singular):
        for n in range(len(seq), 0, -1):
            for start in range(len(seq) - n + 1):
                colour = phrases.get(seq[start : start + n])
                if colour is not None and (best is None or (-n, start) < best[:2]):
                    best = (-n, start, colour)
    return best[2] if best else None


def label_color(value: int, name: str | None = None, taken: set[RGB] | frozenset = frozenset()) -> RGB:
    """The colour of label ``value`` named ``name``: the table's for a known structure, else the
    fallback palette's for the number, moved along the palette past colours in ``taken`` (those
    other labels of the same table already show) so two labels never share a fallback colour."""
    known = color_for_name(name)
    if known is not None or value == 0:
        return known if known is not None else color_for_label(0)
    palette = label_colors()[1:]
    first = (int(value) - 1) % len(palette)
    for step in range(len(palette)):
        colour = palette[(first + step) % len(palette)]
        if colour not in taken:
            return colour
    return color_for_label(value)
