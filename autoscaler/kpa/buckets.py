"""Per-second metric buckets for many revisions at once, in numpy arrays.

One `WindowBuckets` holds every revision (a row) whose window has the same length in seconds and
the same averaging algorithm. Each row is a ring of one-second buckets, like knative/serving
`pkg/autoscaler/aggregation/bucketing.go` keeps one ring per revision, and we keep the same rules:

* values recorded in the same second are summed (several gateways report the same revision);
* linear average: the window total over the valid buckets, where a window that started less than
  `window` seconds ago counts only the seconds since its first write, trailing seconds with no
  data are dropped from the denominator, gaps inside the window count as 0, a whole window with no
  data resets the first write, and the result is floored to 6 decimals;
* weighted-exponential average: weight alpha for the newest second, alpha(1-alpha) for the one
  before, and so on, where seconds with no data since the last write also decay the weights;
  alpha = max(1 - (1 - 0.9999)^(1/buckets), 0.2).

Every row carries several channels (we record concurrency and request count together, so they
share first and last write times). Times are whole seconds (int64); `now` floats are floored.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# "Never written": far enough in the past that every age computed from it exceeds any window.
NEVER = -(2**62)
PRECISION_DIGITS = 6
_WEIGHT_PRECISION = 0.9999
_MIN_EXPONENT = 0.2

Algorithm = Literal["linear", "weighted-exponential"]


def smoothing_coefficient(n_buckets: int) -> float:
    return max(1.0 - math.pow(1.0 - _WEIGHT_PRECISION, 1.0 / n_buckets), _MIN_EXPONENT)


def round_down(values: FloatArray, digits: int = PRECISION_DIGITS) -> FloatArray:
    scale = 10.0**digits
    result: FloatArray = np.floor(values * scale) / scale
    return result


@dataclasses.dataclass(frozen=True)
class RowSnapshot:
    """One row's ring, detached so it can move to a window of another length."""

    buckets: FloatArray  # (channels, n) in ring order of its own window
    first_write: int
    last_write: int


class WindowBuckets:
    """Rings of `window` one-second buckets for up to `capacity` rows, growing on demand."""

    def __init__(
        self, window: int, algorithm: Algorithm = "linear", channels: int = 2, capacity: int = 16
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least one second")
        self.window = window
        self.algorithm: Algorithm = algorithm
        self.channels = channels
        self._alpha = smoothing_coefficient(window)
        # weights[k] = alpha (1 - alpha)^k for ages up to two windows
        self._weights: FloatArray = self._alpha * np.power(1.0 - self._alpha, np.arange(2 * window + 1))
        self._offsets: IntArray = np.arange(window, dtype=np.int64)
        self.buckets: FloatArray = np.zeros((channels, capacity, window))
        self.totals: FloatArray = np.zeros((channels, capacity))
        self.first_write: IntArray = np.full(capacity, NEVER, dtype=np.int64)
        self.last_write: IntArray = np.full(capacity, NEVER, dtype=np.int64)
        self.in_use: BoolArray = np.zeros(capacity, dtype=np.bool_)
        self._free: list[int] = list(range(capacity - 1, -1, -1))
        self.high_water = 0  # rows [0, high_water) may be in use

    # ---------------------------------------------------------------- rows

    @property
    def capacity(self) -> int:
        return int(self.in_use.shape[0])

    @property
    def rows_in_use(self) -> int:
        return int(self.in_use[: self.high_water].sum())

    def _grow(self) -> None:
        old = self.capacity
        new = old * 2
        self.buckets = np.concatenate([self.buckets, np.zeros((self.channels, old, self.window))], axis=1)
        self.totals = np.concatenate([self.totals, np.zeros((self.channels, old))], axis=1)
        self.first_write = np.concatenate([self.first_write, np.full(old, NEVER, dtype=np.int64)])
        self.last_write = np.concatenate([self.last_write, np.full(old, NEVER, dtype=np.int64)])
        self.in_use = np.concatenate([self.in_use, np.zeros(old, dtype=np.bool_)])
        self._free.extend(range(new - 1, old - 1, -1))

    def add_row(self) -> int:
        if not self._free:
            self._grow()
        row = self._free.pop()
        self._clear(row)
        self.in_use[row] = True
        self.high_water = max(self.high_water, row + 1)
        return row

    def remove_row(self, row: int) -> None:
        if not self.in_use[row]:
            raise KeyError(row)
        self.in_use[row] = False
        self._clear(row)
        self._free.append(row)

    def _clear(self, row: int) -> None:
        self.buckets[:, row, :] = 0.0
        self.totals[:, row] = 0.0
        self.first_write[row] = NEVER
        self.last_write[row] = NEVER

    def snapshot(self, row: int) -> RowSnapshot:
        return RowSnapshot(
            buckets=self.buckets[:, row, :].copy(),
            first_write=int(self.first_write[row]),
            last_write=int(self.last_write[row]),
        )

    def add_row_from(self, snap: RowSnapshot, now: float) -> int:
        """A new row holding `snap`'s data resized to this window, as Knative's ResizeWindow."""
        row = self.add_row()
        old_n = snap.buckets.shape[1]
        if math.floor(now) - snap.last_write <= old_n:
            seconds = snap.last_write - np.arange(min(self.window, old_n), dtype=np.int64)
            self.buckets[:, row, seconds % self.window] = snap.buckets[:, seconds % old_n]
            self.totals[:, row] = self.buckets[:, row, :].sum(axis=1)
            self.first_write[row] = snap.last_write - (old_n - 1)
        self.last_write[row] = snap.last_write
        return row

    # ---------------------------------------------------------------- writes

    def record(self, now: float, row: int, value: npt.ArrayLike) -> None:
        """Add `value` (a number, or one per channel) to `row`'s bucket for the second of `now`."""
        values = np.asarray(value, dtype=np.float64).reshape(self.channels, 1)
        self.record_many(now, np.array([row], dtype=np.int64), values)

    def record_many(self, now: float, rows: npt.ArrayLike, values: npt.ArrayLike) -> None:
        """Add `values` (channels, len(rows)) into each row's bucket for the second of `now`.

        Rows may repeat; their values are summed first, as Knative sums every report of a second.
        """
        rows_arr = np.asarray(rows, dtype=np.int64)
        vals = np.asarray(values, dtype=np.float64).reshape(self.channels, rows_arr.shape[0])
        if rows_arr.size == 0:
            return
        unique, inverse = np.unique(rows_arr, return_inverse=True)
        summed = np.stack(
            [np.bincount(inverse, weights=vals[c], minlength=unique.size) for c in range(self.channels)]
        )
        rows_arr = unique
        n = self.window
        t = math.floor(now)
        last = self.last_write[rows_arr]
        first = self.first_write[rows_arr]
        same = last == t
        fresh = ~same & (t + n > last)  # older than a window before the last write: dropped
        keep = same | fresh
        first = np.where(fresh & ((first == NEVER) | (first > t)), t, first)
        forward = fresh & (t > last)
        reset = forward & (t - last >= n)
        gap = forward & ~reset
        if reset.any():
            reset_rows = rows_arr[reset]
            self.buckets[:, reset_rows, :] = 0.0
            self.totals[:, reset_rows] = 0.0
            first = np.where(reset, t, first)
        if gap.any():
            # Ring slots of the seconds (last, t] are stale: zero them and take them off the total.
            self._clear_stale(rows_arr[gap], last[gap], t - last[gap])
        self.first_write[rows_arr] = first
        self.last_write[rows_arr] = np.where(forward, t, last)
        kept = rows_arr[keep]
        self.buckets[:, kept, t % n] += summed[:, keep]
        self.totals[:, kept] += summed[:, keep]

    def _clear_stale(self, rows: IntArray, last: IntArray, gap: IntArray) -> None:
        """Zero the buckets of seconds last+1 .. last+gap (gap < window) of each row.

        One pass per second of the largest gap: usually one or two, and never a full copy of the
        rows' rings.
        """
        for k in range(1, int(gap.max()) + 1):
            chosen = gap >= k
            rows_k = rows[chosen]
            ring = (last[chosen] + k) % self.window
            self.totals[:, rows_k] -= self.buckets[:, rows_k, ring]
            self.buckets[:, rows_k, ring] = 0.0

    def _stale_sum(self, rows: IntArray, last: IntArray, age: IntArray) -> FloatArray:
        """Per row, the sum of its buckets for seconds last+1 .. last+age (age < window)."""
        total = np.zeros((self.channels, rows.shape[0]))
        for k in range(1, int(age.max()) + 1):
            chosen = np.nonzero(age >= k)[0]
            total[:, chosen] += self.buckets[:, rows[chosen], (last[chosen] + k) % self.window]
        return total

    # ---------------------------------------------------------------- reads

    def is_empty(self, now: float, rows: npt.ArrayLike | None = None) -> BoolArray:
        """Per row: no write within the last window (Knative's ErrNoData)."""
        last = (
            self.last_write[: self.high_water]
            if rows is None
            else self.last_write[np.asarray(rows, dtype=np.int64)]
        )
        result: BoolArray = (math.floor(now) - last) > self.window
        return result

    def window_average(self, now: float, rows: npt.ArrayLike | None = None) -> FloatArray:
        """(channels, k) averages at `now` for `rows` (default: every row up to high_water)."""
        idx = (
            np.arange(self.high_water, dtype=np.int64)
            if rows is None
            else np.asarray(rows, dtype=np.int64).reshape(-1)
        )
        if self.algorithm == "linear":
            return self._linear_average(now, idx)
        return self._weighted_average(now, idx)

    def _linear_average(self, now: float, idx: IntArray) -> FloatArray:
        n = self.window
        t = math.floor(now)
        last = self.last_write[idx]
        first = self.first_write[idx]
        totals = self.totals[:, idx]
        age = t - last
        written = np.minimum(last - first + 1, n)
        result = np.zeros((self.channels, idx.shape[0]))
        current = age <= 0
        if current.any():
            result[:, current] = totals[:, current] / np.maximum(written[current], 1)
        trailing = (age > 0) & (age < n)
        if trailing.any():
            pos = np.nonzero(trailing)[0]
            stale_sum = self._stale_sum(idx[pos], last[pos], age[pos])
            valid = np.minimum(written[pos], n - age[pos])
            result[:, pos] = (totals[:, pos] - stale_sum) / np.maximum(valid, 1)
        return round_down(result)

    def _weighted_average(self, now: float, idx: IntArray) -> FloatArray:
        n = self.window
        t = math.floor(now)
        last = self.last_write[idx]
        age = t - last
        result = np.zeros((self.channels, idx.shape[0]))
        live = age <= n
        if not live.any():
            return result
        pos = np.nonzero(live)[0]
        zeros_since = np.maximum(age[pos], 0)
        # how many seconds before the last write each ring slot holds
        back = (last[pos][:, None] - self._offsets[None, :]) % n
        included = back < (n - zeros_since)[:, None]
        weights = np.where(included, self._weights[np.minimum(zeros_since[:, None] + back, 2 * n)], 0.0)
        result[:, pos] = (self.buckets[:, idx[pos], :] * weights[None, :, :]).sum(axis=2)
        return result
