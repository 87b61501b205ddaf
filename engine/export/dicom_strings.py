"""Every string an export writes made valid for its value representation (PS3.5 6.2).

Label names come from users: "liver\\left" would make a SegmentLabel of two values, a newline is
not allowed in LO, and 64 characters of "Läsion" are more than the 64 bytes LO may hold in UTF-8
(the character set exports declare). ``conform(dataset)`` walks a dataset, its sequences included,
and fixes each string: control characters become spaces, a backslash inside one value becomes "/",
values are cut to their VR's length in bytes (never inside a character), CS keeps only the
characters CS allows. The manifest keeps the full names.
"""

from __future__ import annotations

import re
import unicodedata

from pydicom.datadict import dictionary_VM
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

# maximum bytes per value (PN: per component group)
MAX_BYTES = {
    "AE": 16,
    "CS": 16,
    "SH": 16,
    "LO": 64,
    "PN": 64,
    "ST": 1024,
    "LT": 10240,
    "UC": 1 << 30,
    "UT": 1 << 30,
}
TEXT_VRS = ("ST", "LT", "UT")  # may hold CR, LF, FF and TAB; one value only, backslash allowed
_CS_BAD = re.compile(r"[^A-Z0-9 _]")
_SPACES = re.compile(r"\s+")


def cut_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8, at a character boundary."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", errors="ignore").rstrip()


def _no_controls(text: str, keep: str = "") -> str:
    return "".join(" " if (unicodedata.category(ch) == "Cc" and ch not in keep) else ch for ch in text)


def one_value(text: str, vr: str) -> str:
    """One value of a string VR, valid for it."""
    text = str(text)
    if vr in TEXT_VRS:
        return cut_bytes(_no_controls(text, keep="\r\n\f\t"), MAX_BYTES[vr])
    text = _SPACES.sub(" ", _no_controls(text)).strip().replace("\\", "/")
    if vr == "CS":
        text = _CS_BAD.sub("_", text.upper())
    elif vr == "PN":
        groups = [cut_bytes(g, MAX_BYTES["PN"]) for g in text.split("=")[:3]]
        return "=".join(groups)
    return cut_bytes(text, MAX_BYTES.get(vr, 1 << 30))


def label_text(name: str, fallback: str, vr: str = "LO") -> str:
    """A user's label name as a valid ``vr`` value (``fallback`` when nothing printable is left)."""
    return one_value(name, vr) or fallback


def _single_valued(tag) -> bool:
    try:
        return dictionary_VM(tag) == "1"
    except KeyError:  # private or unknown: leave its values as they are
        return False


def conform(ds: Dataset) -> Dataset:
    """Fix every string element of ``ds`` (and of its sequences) for its VR, in place."""
    for elem in ds.iterall():
        vr = elem.VR
        if vr not in MAX_BYTES or elem.value is None or elem.value == "":
            continue
        value = elem.value
        if isinstance(value, (MultiValue, list, tuple)):
            if vr in TEXT_VRS or _single_valued(elem.tag):  # split by a backslash: one value again
                elem.value = one_value("/".join(str(v) for v in value), vr)
            else:
                elem.value = [one_value(str(v), vr) for v in value]
        elif isinstance(value, (str, PersonName)):
            fixed = one_value(str(value), vr)
            if fixed != str(value):
                elem.value = fixed
    return ds
