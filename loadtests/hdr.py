"""A log-bucketed latency histogram in the spirit of HdrHistogram: bounded relative error.

Values (seconds) are counted in buckets whose width grows with the value, so each reported
percentile is within `precision` (1 % by default) of a recorded value, whatever the range (1 us
to hours), in constant memory per decade. No sorting of raw samples, and histograms of
different seconds merge by adding counts. Reported values are the bucket's upper bound capped
by the largest value recorded, so a percentile never understates a latency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

_FLOOR_SECONDS = 1e-6  # everything below one microsecond shares the first bucket


@dataclass
class Histogram:
    precision: float = 0.01
    counts: dict[int, int] = field(default_factory=dict)
    count: int = 0
    total: float = 0.0
    min: float = math.inf
    max: float = 0.0

    def _index(self, seconds: float) -> int:
        return max(
            0, math.ceil(math.log(max(seconds, _FLOOR_SECONDS) / _FLOOR_SECONDS, 1.0 + self.precision))
        )

    def _upper(self, index: int) -> float:
        return _FLOOR_SECONDS * (1.0 + self.precision) ** index

    def record(self, seconds: float) -> None:
        index = self._index(seconds)
        self.counts[index] = self.counts.get(index, 0) + 1
        self.count += 1
        self.total += seconds
        self.min = min(self.min, seconds)
        self.max = max(self.max, seconds)

    def merge(self, other: Histogram) -> None:
        if other.precision != self.precision:
            raise ValueError("histograms of different precision do not merge")
        for index, n in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + n
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def percentile(self, q: float) -> float:
        """The value at quantile `q` (0..1): NaN when empty."""
        if self.count == 0:
            return math.nan
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return min(self._upper(index), self.max)
        return self.max

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    def summary_ms(self) -> dict[str, float | int | None]:
        """count and p50/p90/p99/p999/max/mean in milliseconds (None when empty, for JSON)."""

        def ms(value: float) -> float | None:
            return None if math.isnan(value) else round(value * 1000.0, 3)

        return {
            "count": self.count,
            "p50_ms": ms(self.percentile(0.5)),
            "p90_ms": ms(self.percentile(0.9)),
            "p99_ms": ms(self.percentile(0.99)),
            "p999_ms": ms(self.percentile(0.999)),
            "max_ms": ms(self.max) if self.count else None,
            "mean_ms": ms(self.mean),
        }
