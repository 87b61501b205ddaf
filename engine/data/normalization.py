"""Intensity normalisation per modality, with the parameters kept so it can be inverted.

Both modalities use one monotone piecewise-linear map from image units to [-1, 1] (``np.interp``
through a few knots), so the inverse is exact inside the range and the generator's tanh output
always maps back to a valid value.

CT (method ``piecewise_linear``): the full range -1024..3071 HU through the knots ``CT_KNOTS``.
Soft tissue (-200..300 HU) gets 40 % of the output range, 6.25 HU per 0.01 (the old -1000..1000
HU window gave 10 HU per 0.01 and clipped bone above 1000 HU); air and lung (-1024..-200 HU) 30 %;
bone, contrast and metal (300..3071 HU) 30 %. The same knots for every case.

MR (method ``percentile_tail``): per volume, the ``mr_percentiles`` (default 0.5 and 99.5) map to -1
and ``MR_HIGH_VALUE`` (0.6), and the bright tail above the upper percentile up to the volume's
maximum maps to 0.6..1, so nothing bright is clipped. Synthetic volumes are mapped back with the
median of the training volumes' (low, high, top).

Runs written before this map (``method: window``, a linear CT window or MR (low, high)) still load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import ConfigError

CT_KNOTS: tuple[tuple[float, float], ...] = ((-1024.0, -1.0), (-200.0, -0.4), (300.0, 0.4), (3071.0, 1.0))
MR_HIGH_VALUE = 0.6
CT_YARDSTICK_HU = 2000.0  # the width the relative intensity measures divide by (-1000..1000 HU)
_CHUNK = 1 << 22  # voxels per np.interp call: bounds the float64 temporaries


def guess_modality(arr: np.ndarray) -> str:
    """CT holds air near -1000 HU; MR intensities are not negative."""
    sample = arr.ravel()[:: max(1, arr.size // 200_000)]
    return "CT" if float(np.percentile(sample, 1)) < -500 else "MR"


def _check_knots(knots) -> tuple[tuple[float, float], ...]:
    try:
        pairs = tuple((float(u), float(v)) for u, v in knots)
    except (TypeError, ValueError):
        raise ConfigError(f"CT knots {knots!r}: give (HU, value) pairs") from None
    units = [u for u, _ in pairs]
    values = [v for _, v in pairs]
    if len(pairs) < 2 or any(b <= a for a, b in zip(units, units[1:])) or any(
        b <= a for a, b in zip(values, values[1:])
    ):
        raise ConfigError(f"CT knots {knots!r}: need 2 or more, rising in both HU and value")
    if values[0] != -1.0 or values[-1] != 1.0:
        raise ConfigError(f"CT knots {knots!r}: the values must run from -1 to 1")
    return pairs


def _interp(arr: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``np.interp`` in float32 chunks (clips outside the knots); keeps the shape, 0-d included."""
    a = np.asarray(arr)
    flat = a.reshape(-1)
    out = np.empty(flat.shape, np.float32)
    for i in range(0, flat.size, _CHUNK):
        out[i : i + _CHUNK] = np.interp(flat[i : i + _CHUNK].astype(np.float64), xs, ys)
    return out.reshape(a.shape) if a.ndim else np.float32(out[0])


@dataclass
class IntensityNormalization:
    modality: str  # "CT" | "MR"
    ct_knots: tuple[tuple[float, float], ...] = CT_KNOTS
    mr_percentiles: tuple[float, float] = (0.5, 99.5)
    cases: dict[str, tuple[float, ...]] = field(default_factory=dict)  # case id -> its parameters
    legacy: bool = False  # a run written with the old linear window / MR (low, high)

    def __post_init__(self) -> None:
        if self.modality not in ("CT", "MR"):
            raise ConfigError(f"modality must be CT or MR, not {self.modality!r}")
        self.ct_knots = _check_knots(self.ct_knots)
        lo, hi = (float(p) for p in self.mr_percentiles)
        if not 0.0 <= lo < hi <= 100.0:
            raise ConfigError(f"MR percentiles {self.mr_percentiles}: use 0 <= low < high <= 100")

    # ---- parameters --------------------------------------------------------------------------
    def fit(self, case_id: str, arr: np.ndarray) -> tuple[float, ...]:
        """The case's parameters (recorded, and returned): CT the knots' HU range; MR (low, high,
        top) = its two percentiles and its maximum (the end of the bright tail)."""
        if self.modality == "CT":
            params: tuple[float, ...] = (self.ct_knots[0][0], self.ct_knots[-1][0])
        else:
            sample = np.asarray(arr).ravel()[:: max(1, np.asarray(arr).size // 2_000_000)].astype(np.float64)
            low, high = (float(v) for v in np.percentile(sample, self.mr_percentiles))
            top = float(np.max(arr))
            if high <= low:
                high = low + 1.0
            top = max(top, high + 0.01 * (high - low))
            params = (low, high, top)
        self.cases[case_id] = tuple(float(p) for p in params)
        return self.cases[case_id]

    def knots(self, params: tuple[float, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(units, values) of the map for a case's ``params`` (default: the reference)."""
        params = self.reference if params is None else tuple(params)
        if self.modality == "CT" and not self.legacy:
            units, values = zip(*self.ct_knots)
        elif len(params) == 2:  # legacy: linear between (low, high)
            units, values = params, (-1.0, 1.0)
        else:
            low, high, top = params
            units, values = (low, high, top), (-1.0, MR_HIGH_VALUE, 1.0)
        return np.asarray(units, np.float64), np.asarray(values, np.float64)

    def forward(self, arr: np.ndarray, params: tuple[float, ...] | None = None) -> np.ndarray:
        """Image units -> [-1, 1] (float32), clipped outside the map's range."""
        xs, ys = self.knots(params)
        return _interp(arr, xs, ys)

    def inverse(self, x: np.ndarray, params: tuple[float, ...] | None = None) -> np.ndarray:
        """[-1, 1] -> image units (float32); ``params`` default to the reference (synthetic data)."""
        xs, ys = self.knots(params)
        return _interp(x, ys, xs)

    @property
    def reference(self) -> tuple[float, ...]:
        """The parameters that map synthetic volumes back to HU / MR units."""
        if self.modality == "CT":
            return (self.ct_knots[0][0], self.ct_knots[-1][0])
        if not self.cases:
            return (0.0, 1.0, 1.0 + 1.0 / MR_HIGH_VALUE)
        width = max(len(p) for p in self.cases.values())
        rows = np.array([p for p in self.cases.values() if len(p) == width], np.float64)
        return tuple(float(v) for v in np.median(rows, axis=0))

    @property
    def yardstick_width(self) -> float:
        """The width relative intensity measures divide by: 2000 HU for CT (-1000..1000, the
        soft-tissue-to-bone span a reader compares in), the reference percentile range for MR."""
        if self.modality == "CT":
            return CT_YARDSTICK_HU
        ref = self.reference
        return float(ref[1] - ref[0])

    @property
    def value_range(self) -> tuple[float, float]:
        """The lowest and highest value the map can give back (HU / MR units)."""
        xs, _ = self.knots()
        return float(xs[0]), float(xs[-1])

    # ---- storage -----------------------------------------------------------------------------
    def to_json(self) -> dict:
        if self.modality == "CT":
            method = "window" if self.legacy else "piecewise_linear"
        else:
            method = "percentile" if self.legacy else "percentile_tail"
        return {
            "modality": self.modality,
            "method": method,
            "ct_knots": [list(k) for k in self.ct_knots],
            "mr_percentiles": list(self.mr_percentiles),
            "mr_high_value": MR_HIGH_VALUE,
            "cases": {k: list(v) for k, v in self.cases.items()},
            "reference": list(self.reference),
            "note": "units -> [-1, 1] by np.interp through the knots (CT: ct_knots; MR per case: "
            "(low, high, top) -> (-1, mr_high_value, 1))",
        }

    @classmethod
    def from_json(cls, data: dict) -> IntensityNormalization:
        method = data.get("method")
        cases = {k: tuple(float(x) for x in v) for k, v in data.get("cases", {}).items()}
        if method in ("window", "percentile") or (method is None and "ct_window" in data):
            lo, hi = data.get("ct_window", (-1000.0, 1000.0))
            return cls(data["modality"], ((lo, -1.0), (hi, 1.0)),
                       tuple(data.get("mr_percentiles", (0.5, 99.5))), cases, legacy=True)
        return cls(
            modality=data["modality"],
            ct_knots=tuple(tuple(k) for k in data.get("ct_knots", CT_KNOTS)),
            mr_percentiles=tuple(data.get("mr_percentiles", (0.5, 99.5))),
            cases=cases,
        )

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> IntensityNormalization:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
