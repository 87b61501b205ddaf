"""The identifying strings a run's source data is known to hold: case ids, paths, folder and file
names, and the identifying values of its DICOM headers (names, IDs, dates, times, UIDs,
descriptions, private tags, inside sequences too).

They are what ``Release`` looks for in anything that leaves the run folder. Reading them costs
one header per DICOM case; a dataset that is gone still gives its case ids and recorded paths.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.formats import DICOM_EXTENSIONS, has_dicom_magic, is_hidden_or_junk, strip_extensions
from engine.data.naming import IMAGE_DIRS, IMAGE_TOKENS, LABEL_DIRS, LABEL_TOKENS
from engine.training.run_folder import TrainingRun

log = logging.getLogger(__name__)
SEPARATORS = re.compile(r"[\s^_\-.,/\\:;()\[\]{}'\"=+]+")
OWN_KEY_WORDS = (
    "utility", "fidelity", "diversity", "memorization", "memorisation", "intensity", "realism", "verdict",
    "verdicts", "summary", "segmenter", "conditions", "condition", "augmentation", "augmented", "label",
    "source", "sources", "ratio", "ratios", "seeds", "seed", "dice", "mean", "per", "heldout", "held",
    "closest", "pairs", "notes", "version", "application", "config", "checkpoint", "model", "modality",
    "pixels", "export", "batch", "time", "seconds", "sharpness", "spectral", "texture", "bone", "plane",
    "axial", "coronal", "sagittal", "through", "recommended", "budget", "rare", "slicer",
)
# Words of SynthVol's own layouts and generic folder names: never treated as identifiers (a
# dataset in data/images/ must not blank "images" out of every manifest)
GENERIC = frozenset(
    {w.lower() for w in (*IMAGE_DIRS, *LABEL_DIRS, *IMAGE_TOKENS, *LABEL_TOKENS)}
    | {
        "data",
        "dataset",
        "datasets",
        "raw",
        "input",
        "inputs",
        "output",
        "outputs",
        "export",
        "exports",
        "train",
        "training",
        "test",
        "testing",
        "val",
        "validation",
        "imagestr",
        "labelstr",
        "imagests",
        "labelsts",
        "dicom",
        "nifti",
        "nrrd",
        "nnunet",
        "nnunet_raw",
        "series",
        "study",
        "studies",
        "patient",
        "patients",
        "case",
        "cases",
        "subject",
        "subjects",
        "runs",
        "run",
        "tmp",
        "temp",
        "home",
        "users",
        "user",
        "synthvol",
        "synthetic",
        "removed",
        "seg_100",
        "manifest",
        "readme",
        "quality",
        "report",
        "gallery",
        "work",
        "samples",
        "checkpoints",
    }
    # the words of SynthVol's own report and manifest keys: a dataset or case named "fidelity" must
    # not blank a key out (tests/engine/test_release.py, a run in folders named like the report)
    | set(OWN_KEY_WORDS)
)
_OUR_IDS = re.compile(r"^(syn|real|case)[_-]?[0-9a-f]*$", re.IGNORECASE)
_STANDARD_UID = "1.2.840.10008."  # UIDs the standard defines (SOP classes...): not identifying
_TEXT_VRS = {"PN", "LO", "SH", "LT", "ST", "UT", "UC", "UR", "AE", "AS", "DA", "DT", "TM", "UI"}
_PRINTABLE_RUN = re.compile(rb"[\x20-\x7e]{4,}")


def tokens(text: str) -> list[str]:
    return [t for t in SEPARATORS.split(str(text)) if t]


def usable_term(term: str) -> bool:
    """Long and specific enough to look for without blanking ordinary words or our own names."""
    parts = tokens(term)
    if not parts:
        return False
    if len(parts) > 1:
        return sum(len(p) for p in parts) >= 4
    word = parts[0]
    if word.lower() in GENERIC or _OUR_IDS.match(word):
        return False
    if word.isdigit():
        return len(word) >= 6
    return len(word) >= 3


def usable_case_id(case_id: str) -> bool:
    """A case id is looked for wherever it stands, unless it is one of SynthVol's own output ids
    (syn_0001, real_0001), a generic word, or a number too short to tell from any other."""
    text = str(case_id).strip()
    if len(text) < 2 or text.lower() in GENERIC or re.match(r"^(syn|real)[_-]?\d+$", text, re.IGNORECASE):
        return False
    return not (text.isdigit() and len(text) < 4)


@dataclass
class KnownTerms:
    """Case ids (replaced by pseudonyms) and other identifying strings (removed)."""

    cases: set[str] = field(default_factory=set)
    other: set[str] = field(default_factory=set)

    def add_path(self, path: Path | str | None, root: Path | None = None) -> None:
        """A path as recorded, and every folder and file name of it below ``root`` (the dataset)."""
        if not path:
            return
        path = Path(path)
        self.other.add(str(path))
        parts = path.parts
        if root is not None:
            try:
                parts = path.relative_to(root).parts
            except ValueError:
                parts = path.parts[-2:]
        for name in parts:
            self.other.update((name, strip_extensions(name)))

    def add_dataset_root(self, root: Path) -> None:
        self.other.update((str(root), root.name))
        try:
            self.other.add(str(root.resolve()))
        except OSError:
            pass

    def add_dicom_values(self, values: Iterable[str]) -> None:
        for value in values:
            self.other.add(value)

    def merged(self, other: KnownTerms) -> KnownTerms:
        return KnownTerms(self.cases | other.cases, self.other | other.other)


def terms_of_run(run: TrainingRun) -> KnownTerms:
    """What the run's data_manifest.json names (cases, paths) and what its DICOM headers hold."""
    terms = KnownTerms()
    # the run folder: its whole path and its own name (often named after the data); the folders
    # above it are the user's own working folders, and their words ("utility", "projects") would
    # blank out the keys of every report
    terms.other.update((str(run.folder), run.folder.name))
    try:
        terms.other.add(str(run.folder.resolve()))
    except OSError:
        pass
    try:
        manifest = run.read_manifest()
    except (OSError, ValueError):
        return terms
    root = Path(str(manifest.get("dataset") or ""))
    if str(root) not in ("", "."):
        terms.add_dataset_root(root)
    split = manifest.get("split") or {}
    terms.cases.update(str(c) for c in split.get("train_cases", []) + split.get("val_cases", []))
    for case in manifest.get("cases", []):
        terms.cases.add(str(case.get("id", "")))
        for key in ("image", "label"):
            if case.get(key) and case[key] != "None":
                terms.add_path(case[key], root)
                terms.add_dicom_values(dicom_values(Path(case[key])))
    terms.cases.discard("")
    return terms


def terms_of_dataset(root: Path, case_ids: Iterable[str], files: Iterable[Path] = ()) -> KnownTerms:
    """Another dataset (``evaluate --data``): its path, case ids and file names."""
    terms = KnownTerms(cases={str(c) for c in case_ids})
    terms.add_dataset_root(Path(root))
    for f in files:
        terms.add_path(f, Path(root))
        terms.add_dicom_values(dicom_values(Path(f)))
    return terms


def dicom_values(path: Path) -> list[str]:
    """The identifying values of the DICOM header of ``path`` (a file or a series folder: its
    first file), as strings worth looking for; [] when it is not DICOM or cannot be read."""
    first = _first_dicom_file(path)
    if first is None:
        return []
    try:
        import pydicom

        ds = pydicom.dcmread(first, stop_before_pixels=True, force=True)
    except Exception as exc:  # any reader error only means no values to add
        log.debug("%s: header not read for release terms (%s)", first, exc)
        return []
    out: list[str] = []
    for element in _elements(ds):
        out.extend(_element_terms(element))
    return out


def _first_dicom_file(path: Path) -> Path | None:
    if path.is_file():
        return path if has_dicom_magic(path) or path.name.lower().endswith(DICOM_EXTENSIONS) else None
    if not path.is_dir():
        return None
    for candidate in sorted(path.iterdir()):
        if candidate.is_file() and not is_hidden_or_junk(candidate) and has_dicom_magic(candidate):
            return candidate
    return None


def _elements(ds) -> Iterator:
    for element in ds:
        if element.VR == "SQ":
            for item in element.value or []:
                yield from _elements(item)
        else:
            yield element


def _element_terms(element) -> list[str]:
    value = element.value
    if value is None or value == "":
        return []
    if isinstance(value, (bytes, bytearray)):
        if element.tag.is_private or element.VR in ("UN", "OB"):
            return [m.decode("ascii") for m in _PRINTABLE_RUN.findall(bytes(value))]
        return []
    if element.VR not in _TEXT_VRS and not element.tag.is_private:
        return []
    values = (
        list(value) if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
    )
    out = []
    for v in values:
        text = str(v).strip()
        if not text or (element.VR == "UI" and text.startswith(_STANDARD_UID)):
            continue
        out.append(text)
        if element.VR == "PN":
            out.extend(tokens(text))
        elif element.VR == "DA" and len(text) == 8 and text.isdigit():
            out.append(f"{text[:4]}-{text[4:6]}-{text[6:]}")
        else:
            out.extend(t for t in tokens(text) if any(ch.isdigit() for ch in t) and len(t) >= 4)
    return out
