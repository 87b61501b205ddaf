"""A NumPy buffer for one plotted series: amortised O(1) appends, contiguous views, a size cap.

The storage grows by doubling up to twice the cap; once full, the newest ``cap`` points are moved
into a fresh array (the old one stays valid for anyone still drawing from a view of it). The
visible window is always one contiguous slice, so handing it to pyqtgraph copies nothing.
"""

from __future__ import annotations

import numpy as np


class SeriesBuffer:
    def __init__(self, cap: int = 200_000, initial: int = 1024) -> None:
        if cap < 1:
            raise ValueError("cap must be >= 1")
        self.cap = int(cap)
        size = max(1, min(int(initial), 2 * self.cap))
        self._x = np.empty(size, dtype=np.float64)
        self._y = np.empty(size, dtype=np.float64)
        self._start = 0
        self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    @property
    def x(self) -> np.ndarray:
        return self._x[self._start : self._end]

    @property
    def y(self) -> np.ndarray:
        return self._y[self._start : self._end]

    @property
    def capacity(self) -> int:
        return len(self._x)

    def last_x(self) -> float | None:
        return float(self._x[self._end - 1]) if len(self) else None

    def _make_room(self, extra: int) -> None:
        if self._end + extra <= len(self._x):
            return
        keep = min(len(self), self.cap)
        needed = keep + extra
        size = len(self._x)
        while size < needed and size < 2 * self.cap:
            size *= 2
        size = max(size, needed)  # one bulk extend may exceed 2 * cap for a moment
        x, y = np.empty(size, np.float64), np.empty(size, np.float64)
        x[:keep] = self._x[self._end - keep : self._end]
        y[:keep] = self._y[self._end - keep : self._end]
        self._x, self._y, self._start, self._end = x, y, 0, keep

    def append(self, x: float, y: float) -> None:
        self._make_room(1)
        self._x[self._end] = x
        self._y[self._end] = y
        self._end += 1
        if len(self) > self.cap:
            self._start = self._end - self.cap

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)[-self.cap :]
        y = np.asarray(y, dtype=np.float64)[-self.cap :]
        if x.shape != y.shape:
            raise ValueError("x and y must have the same length")
        self._make_room(len(x))
        self._x[self._end : self._end + len(x)] = x
        self._y[self._end : self._end + len(y)] = y
        self._end += len(x)
        if len(self) > self.cap:
            self._start = self._end - self.cap

    def truncate_from(self, x: float) -> None:
        """Drop the points at ``x`` and after (a run resumed from an earlier checkpoint)."""
        cut = int(np.searchsorted(self.x, x, side="left"))
        self._end = self._start + cut

    def clear(self) -> None:
        self._start = self._end = 0
