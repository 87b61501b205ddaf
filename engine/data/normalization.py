"""Intensity normalisation per modality, with the parameters kept so it can be inverted.

CT: Hounsfield units clipped to a window (default -1000..1000 HU, as MAISI does) and scaled to
[-1, 1]. MR: per-volume percentiles (default 0.5 and 99.5) mapped to [-1, 1]; synthetic volumes are
mapped back with the median of the training volumes' percentiles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import ConfigError


def guess_modality(arr: np.ndarray) -> str:
    """CT holds air near -1000 HU; MR intensities are not negative."""
    sample = arr.ravel()[:: max(1, arr.size // 200_000)]
    return "CT" if float(np.percentile(sample, 1)) < -500 else "MR"


@dataclass
class IntensityNormalization:
    modality: str  # "CT" | "MR"
    ct_window: tuple[float, float] = (-1000.0, 1000.0)
    mr_percentiles: tuple[float, float] = (0.5, 99.5)
    cases: dict[str, tuple[float, float]] = field(default_factory=dict)  # case id -> (low, high)

    def __post_init__(self) -> None:
        if self.modality not in ("CT", "MR"):
            raise ConfigError(f"modality must be CT or MR, not {self.modality!r}")
        lo, hi = self.ct_window
        if not hi > lo:
            raise ConfigError(f"CT window {self.ct_window}: the upper bound must exceed the lower")

    def fit(self, case_id: str, arr: np.ndarray) -> tuple[float, float]:
        if self.modality == "CT":
            low, high = self.ct_window
        else:
            sample = arr.ravel()[:: max(1, arr.size // 2_000_000)].astype(np.float64)
            low, high = (float(v) for v in np.percentile(sample, self.mr_percentiles))
            if high <= low:
                high = low + 1.0
        self.cases[case_id] = (float(low), float(high))
        return float(low), float(high)

    @staticmethod
    def forward(arr: np.ndarray, low: float, high: float) -> np.ndarray:
        x = np.asarray(np.asarray(arr, dtype=np.float32) - low, dtype=np.float32)
        x *= np.float32(2.0 / (high - low))
        x -= np.float32(1.0)
        return np.clip(x, -1.0, 1.0, out=x) if x.ndim else np.float32(np.clip(x, -1.0, 1.0))

    @staticmethod
    def inverse(x: np.ndarray, low: float, high: float) -> np.ndarray:
        return (np.asarray(x, dtype=np.float32) + 1.0) * 0.5 * (high - low) + low

    @property
    def reference(self) -> tuple[float, float]:
        """The (low, high) used to map synthetic volumes back to HU / MR units."""
        if self.modality == "CT" or not self.cases:
            return (float(self.ct_window[0]), float(self.ct_window[1])) if self.modality == "CT" else (0.0, 1.0)
        lows, highs = zip(*self.cases.values(), strict=False)
        return float(np.median(lows)), float(np.median(highs))

    def to_json(self) -> dict:
        return {
            "modality": self.modality,
            "method": "window" if self.modality == "CT" else "percentile",
            "ct_window": list(self.ct_window),
            "mr_percentiles": list(self.mr_percentiles),
            "cases": {k: list(v) for k, v in self.cases.items()},
            "reference": list(self.reference),
        }

    @classmethod
    def from_json(cls, data: dict) -> IntensityNormalization:
        return cls(
            modality=data["modality"],
            ct_window=tuple(data.get("ct_window", (-1000.0, 1000.0))),
            mr_percentiles=tuple(data.get("mr_percentiles", (0.5, 99.5))),
            cases={k: tuple(v) for k, v in data.get("cases", {}).items()},
        )

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> IntensityNormalization:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
