"""Domain errors: each carries a message a clinician can act on (file, problem, what to do)."""

from __future__ import annotations


class SynthVolError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(SynthVolError, ValueError):
    """A configuration value is missing or out of range."""


class DataError(SynthVolError):
    """A file or folder cannot be used as image or label data."""


class TrainingError(SynthVolError):
    """Training cannot start or cannot go on."""


class CheckpointError(SynthVolError):
    """A checkpoint is missing, unreadable or does not fit the run."""


class ExportError(SynthVolError):
    """An export cannot be written."""


class EvaluationError(SynthVolError):
    """A quality report cannot be computed."""


class Cancelled(SynthVolError):
    """The user stopped the operation; nothing half-done was left behind."""
