"""The maximum of recorded values over a sliding time window (scale-down-delay).

Knative delays scale-down by taking the largest desired scale recorded over the last
`scale-down-delay`, in buckets of the 2 s decision tick (`pkg/autoscaler/aggregation/max`). A
descending-maxima deque gives the maximum in O(1) amortised per record: a new value evicts every
smaller one before it, since it is both larger and more recent.
"""

from __future__ import annotations

import collections
import math

DELAY_GRANULARITY_SECONDS = 2.0


class MaxTimeWindow:
    def __init__(self, duration: float, granularity: float = DELAY_GRANULARITY_SECONDS) -> None:
        self._size = max(1, math.ceil(duration / granularity))
        self._granularity = granularity
        self._maxima: collections.deque[tuple[int, float]] = collections.deque()  # (index, value)

    def record(self, now: float, value: float) -> None:
        index = int(math.floor(now) // int(self._granularity))
        while self._maxima and value >= self._maxima[-1][1]:
            self._maxima.pop()
        while self._maxima and index - self._maxima[0][0] >= self._size:
            self._maxima.popleft()
        # Several records in the same bucket keep the largest.
        if self._maxima and self._maxima[-1][0] == index:
            value = max(value, self._maxima.pop()[1])
        self._maxima.append((index, value))

    def current(self) -> float:
        return self._maxima[0][1] if self._maxima else 0.0
