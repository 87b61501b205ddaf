"""Which cases go where: the checks on case ids and modalities, and the nnU-Net set (all real
cases plus ``round(ratio * n_real)`` synthetic ones, real ids prefixed so they never collide)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from engine.errors import ConfigError, ExportError
from engine.export.config import MODALITIES, ExportCase, ExportConfig, check_case_id
from engine.export.nnunet import REAL_PREFIX


@dataclass(frozen=True)
class CaseSelection:
    synthetic: list[ExportCase]
    real: list[ExportCase]  # only those that go into the nnU-Net set
    nnunet_synthetic: frozenset[str]  # synthetic case ids in the nnU-Net set

    def nnunet_id(self, case: ExportCase) -> str | None:
        if not case.synthetic:
            return REAL_PREFIX + case.case_id
        return case.case_id if case.case_id in self.nnunet_synthetic else None

    @property
    def nnunet_modality(self) -> str | None:
        members = [c for c in self.synthetic if c.case_id in self.nnunet_synthetic] + self.real
        return members[0].modality if members else None


def select_cases(config: ExportConfig, cases, real_cases) -> CaseSelection:
    """Check the cases and decide the nnU-Net set; raise ExportError before anything is written."""
    cases = list(cases)
    real = [replace(c, synthetic=False) for c in real_cases] if "nnunet" in config.formats else []
    n_syn = len(cases)
    if real and config.mix_synthetic_per_real is not None:
        n_syn = min(len(cases), round(config.mix_synthetic_per_real * len(real)))
    in_nnunet = frozenset(c.case_id for c in cases[:n_syn]) if "nnunet" in config.formats else frozenset()
    selection = CaseSelection(cases, real, in_nnunet)
    _check(selection)
    return selection


def _check(sel: CaseSelection) -> None:
    if not sel.synthetic:
        raise ExportError("There is nothing to export: no synthetic cases were given.")
    try:
        for case in sel.synthetic + sel.real:
            check_case_id(case.case_id)
    except ConfigError as exc:
        raise ExportError(str(exc)) from None
    for group, what in ((sel.synthetic, "synthetic"), (sel.real, "real")):
        seen = [c.case_id for c in group]
        repeated = sorted({i for i in seen if seen.count(i) > 1})
        if repeated:
            raise ExportError(f"Case ids must be unique; these {what} ids repeat: {', '.join(repeated)}.")
        for case in group:
            if case.modality not in MODALITIES:
                raise ExportError(f"Case {case.case_id}: modality {case.modality!r} is not CT or MR.")
    marked_real = [c.case_id for c in sel.synthetic if not c.synthetic]
    if marked_real:
        raise ExportError(
            f"Cases {', '.join(marked_real)} are marked real (synthetic=False); real cases go only into the "
            "nnU-Net set (real_cases) and are never written as synthetic DICOM."
        )
    clash = sorted({REAL_PREFIX + c.case_id for c in sel.real} & sel.nnunet_synthetic)
    if clash:
        raise ExportError(
            f"Real and synthetic nnU-Net case ids collide ({', '.join(clash)}); rename the synthetic cases."
        )
    modalities = {c.modality for c in sel.synthetic if c.case_id in sel.nnunet_synthetic}
    modalities |= {c.modality for c in sel.real}
    if len(modalities) > 1:
        raise ExportError(
            f"An nnU-Net dataset holds one modality, but these cases mix {' and '.join(sorted(modalities))}. "
            "Export CT and MR separately."
        )
