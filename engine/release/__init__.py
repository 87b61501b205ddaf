"""What may leave a run folder, decided in one place: ``Release``.

Everything SynthVol writes outside a run folder passes through the ``Release`` of its run, in the
CLI and the GUI alike: an export (manifest.json, the label names that reach DICOM SEG, NIfTI and
nnU-Net files), a quality report (report.json, report.html, the captions of its pictures, the
arrays file for the window). Inside the run folder the real names stay (the window shows them).

- Cases are named by per-run pseudonyms, ``case-`` + 10 hex digits of HMAC-SHA256 keyed by the run's
  own random secret (``TrainingRun.release_key``, which never leaves the folder): stable across the
  exports and reports of one run, so they link, and not reversible by trying likely names.
- Every other identifying string the run's data is known to hold (``release.terms``: paths,
  folder and file names, DICOM names, IDs, dates, times, UIDs, descriptions, private values) is
  replaced by ``[removed]``, wherever it stands in a string and whatever separators it is
  written with (``Doe^Janet``, ``Doe Janet``, ``DOE_JANET``).
- Absolute paths are dropped.

DICOM, NIfTI and nnU-Net files are built from templates and fresh UIDs (engine.export), so the
strings above are all the data-derived text they carry.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.data.labels import LabelTable
from engine.release.terms import (
    KnownTerms,
    terms_of_dataset,
    terms_of_run,
    tokens,
    usable_case_id,
    usable_term,
)
from engine.training.run_folder import TrainingRun

REMOVED = "[removed]"
PATH_REMOVED = "[path removed]"
PSEUDONYM_PREFIX = "case-"
_SEP = r"[\s^_\-.,/\\:;()\[\]{}'\"=+]+"
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:[\\/]|[\\/]|~[\\/])[^\s\"'<>|,;]+")

__all__ = ["PATH_REMOVED", "PSEUDONYM_PREFIX", "REMOVED", "Release"]


def _key(text: str) -> str:
    return " ".join(t.lower() for t in tokens(text))


class Release:
    """The release policy of one run: ``Release.of(run)``; then ``document()`` for any JSON-like
    structure, ``text()`` for one string, ``label_table()`` for the names that reach DICOM."""

    def __init__(self, key: str, terms: KnownTerms | None = None) -> None:
        self._key = key.encode("utf-8")
        self.terms = terms or KnownTerms()
        self._cases = {_key(c): c for c in self.terms.cases if usable_case_id(c)}
        others = {t for t in self.terms.other if usable_term(t)} | set(self._cases.values())
        patterns = sorted({_pattern(t) for t in others}, key=len, reverse=True)
        self._regex = (
            re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(patterns) + r")(?![A-Za-z0-9])", re.IGNORECASE)
            if patterns
            else None
        )

    @classmethod
    def of(cls, run: TrainingRun | Path | str) -> Release:
        run = run if isinstance(run, TrainingRun) else TrainingRun(Path(run))
        return cls(run.release_key(), terms_of_run(run))

    def with_dataset(self, root: Path, case_ids: Iterable[str], files: Iterable[Path] = ()) -> Release:
        """This policy also covering another dataset (a report on data the run never saw)."""
        return Release(self._key.decode("utf-8"), self.terms.merged(terms_of_dataset(root, case_ids, files)))

    # ---- names ---------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        """The run's anonymous id outside its folder."""
        return hmac.new(self._key, b"run", hashlib.sha256).hexdigest()[:16]

    def pseudonym(self, case_id: str | None) -> str | None:
        if case_id is None or str(case_id) == "":
            return None
        digest = hmac.new(self._key, f"case:{case_id}".encode(), hashlib.sha256).hexdigest()
        return PSEUDONYM_PREFIX + digest[:10]

    # ---- what leaves -----------------------------------------------------------------------
    def text(self, value: str) -> str:
        """``value`` with every case id pseudonymised, every known identifier and every absolute
        path removed."""
        text = str(value)
        if self._regex is not None:
            text = self._regex.sub(self._replacement, text)
        return _ABSOLUTE_PATH.sub(PATH_REMOVED, text)

    def document(self, obj: Any) -> Any:
        """A copy of a JSON-like structure with ``text`` applied to every key and string."""
        if isinstance(obj, dict):
            return {self.text(k) if isinstance(k, str) else k: self.document(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.document(v) for v in obj]
        if isinstance(obj, Path):
            return self.text(str(obj))
        if isinstance(obj, str):
            return self.text(obj)
        return obj

    def label_table(self, table: LabelTable) -> LabelTable:
        """The label names as they may be written into an export (DICOM SEG, dataset.json...)."""
        out, used = LabelTable(), set()
        for value in table.values:
            info = table.entries[value]
            name = self.text(info.name).strip()
            if not name or name in (REMOVED, PATH_REMOVED):
                name = "background" if value == 0 else f"label {value}"
            if name in used:  # two names that differed only by what was removed
                name = f"{name} ({value})"
            used.add(name)
            out.add(value, name, info.color)
        return out

    def leaks(self, blob: bytes) -> list[str]:
        """The known identifiers found in ``blob`` (UTF-8 text, or the printable runs of binary)."""
        if self._regex is None:
            return []
        text = blob.decode("utf-8", "replace")
        return sorted({m.group(0) for m in self._regex.finditer(text)})

    def _replacement(self, match: re.Match) -> str:
        case = self._cases.get(_key(match.group(0)))
        return self.pseudonym(case) if case is not None else REMOVED


def _pattern(term: str) -> str:
    return _SEP.join(re.escape(t) for t in tokens(term))
