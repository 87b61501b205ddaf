"""The quality report: fidelity, intensity realism, diversity, memorisation and
train-on-synthetic/test-on-real utility of a trained run, on held-out real data.

Every measure is a pure function of arrays (``fidelity_measures``, ``intensity_w1``,
``diversity_measures``, ``memorization_measures``, ``tstr_measures``); ``evaluate_run`` ties them to
a run folder and writes REPORT/report.json and REPORT/report.html. Definitions: docs/QUALITY.md.
Names are imported lazily so ``import engine.evaluation`` stays cheap for the CLI.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "EvaluateConfig": "engine.evaluation.config",
    "evaluate_run": "engine.evaluation.report",
    "read_quality_report": "engine.evaluation.schema",
    "report_problems": "engine.evaluation.schema",
    "summary_table": "engine.evaluation.schema",
    "fidelity_measures": "engine.evaluation.fidelity",
    "intensity_w1": "engine.evaluation.intensity",
    "diversity_measures": "engine.evaluation.diversity",
    "memorization_measures": "engine.evaluation.memorization",
    "tstr_measures": "engine.evaluation.utility",
    "dice_per_class": "engine.evaluation.segmenter",
    "FunctionSliceGenerator": "engine.evaluation.sampling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'engine.evaluation' has no attribute {name!r}")
