"""Data layer: discovery of cases, reading, checks, normalisation, the cache and torch datasets."""

from engine.data.cases import CaseRef, ScanResult
from engine.data.geometry import Geometry
from engine.data.labels import LabelInfo, LabelTable
from engine.data.scan import discover

__all__ = ["CaseRef", "Geometry", "LabelInfo", "LabelTable", "ScanResult", "discover"]
