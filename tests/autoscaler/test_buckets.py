"""Per-second buckets: Knative's averaging rules, checked by example and against a scalar oracle."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from autoscaler.kpa import buckets as bk


def linear(window: int) -> bk.WindowBuckets:
    return bk.WindowBuckets(window, "linear", channels=1)


def avg(b: bk.WindowBuckets, now: float, row: int = 0) -> float:
    return float(b.window_average(now)[0, row])


def test_partial_window_averages_over_seconds_since_first_write() -> None:
    b = linear(60)
    row = b.add_row()
    b.record(100.2, row, [10.0])
    b.record(101.7, row, [20.0])
    assert avg(b, 101.9) == 15.0


def test_values_in_the_same_second_are_summed() -> None:
    b = linear(60)
    row = b.add_row()
    b.record(5.1, row, 2.0)
    b.record(5.9, row, [3.0])
    b.record_many(5.5, [row, row], [[1.0, 4.0]])
    assert avg(b, 5.0) == 10.0


def test_trailing_seconds_without_data_are_dropped() -> None:
    b = linear(5)
    row = b.add_row()
    for t, v in ((0, 5.0), (1, 10.0), (2, 15.0)):
        b.record(t, row, [v])
    assert avg(b, 2) == 10.0
    assert avg(b, 4) == 10.0  # 30 over the 3 written seconds
    assert avg(b, 5) == 12.5  # t=0 left the window: (10 + 15) / 2
    assert avg(b, 6) == 15.0
    assert avg(b, 7) == 0.0  # a whole window without data


def test_gaps_inside_the_window_count_as_zero() -> None:
    b = linear(5)
    row = b.add_row()
    b.record(0, row, [10.0])
    b.record(2, row, [10.0])
    assert avg(b, 2) == pytest.approx(6.666666)


def test_a_window_without_data_resets_the_first_write() -> None:
    b = linear(5)
    row = b.add_row()
    b.record(0, row, [10.0])
    b.record(1, row, [10.0])
    b.record(10, row, [4.0])
    assert avg(b, 10) == 4.0  # partial again: one second of data


def test_result_is_floored_to_six_digits() -> None:
    b = linear(60)
    row = b.add_row()
    b.record(0, row, [2.0])
    b.record(1, row, [0.0])
    b.record(2, row, [0.0])
    assert avg(b, 2) == 0.666666


def test_late_values_within_a_window_are_kept_older_ones_dropped() -> None:
    b = linear(5)
    row = b.add_row()
    b.record(10, row, [10.0])
    b.record(3, row, [100.0])  # 3 + 5 <= 10: a window too old
    assert avg(b, 10) == 10.0
    b.record(7, row, [5.0])  # late but inside the window; moves first write back to 7
    assert avg(b, 10) == pytest.approx(15.0 / 4)


def test_is_empty_after_more_than_a_window() -> None:
    b = linear(5)
    row = b.add_row()
    assert bool(b.is_empty(0)[row])
    b.record(0, row, [1.0])
    assert not b.is_empty(5)[row]
    assert b.is_empty(6)[row]


def test_weighted_exponential_weights_newest_most() -> None:
    # 4 buckets: alpha = max(1 - 0.0001^(1/4), 0.2) = 0.9
    b = bk.WindowBuckets(4, "weighted-exponential", channels=1)
    row = b.add_row()
    for t, v in enumerate((10.0, 10.0, 5.0, 5.0)):
        b.record(t, row, [v])
    a = 0.9
    expected = 5 * a + 5 * a * (1 - a) + 10 * a * (1 - a) ** 2 + 10 * a * (1 - a) ** 3
    assert avg(b, 3) == pytest.approx(expected)
    # Reversed data gives a different answer, unlike the linear average.
    r = bk.WindowBuckets(4, "weighted-exponential", channels=1)
    row = r.add_row()
    for t, v in enumerate((5.0, 5.0, 10.0, 10.0)):
        r.record(t, row, [v])
    assert avg(r, 3) > avg(b, 3)


def test_weighted_exponential_decays_over_seconds_without_data() -> None:
    b = bk.WindowBuckets(60, "weighted-exponential", channels=1)
    row = b.add_row()
    b.record(0, row, [10.0])
    alpha = bk.smoothing_coefficient(60)
    assert alpha == 0.2  # 1 - 0.0001^(1/60) is about 0.142, below the floor
    assert avg(b, 0) == pytest.approx(10 * alpha)
    assert avg(b, 3) == pytest.approx(10 * alpha * (1 - alpha) ** 3)
    assert avg(b, 61) == 0.0


def test_linear_versus_weighted_on_a_step() -> None:
    lin = bk.WindowBuckets(10, "linear", channels=1)
    wexp = bk.WindowBuckets(10, "weighted-exponential", channels=1)
    for b in (lin, wexp):
        row = b.add_row()
        for t in range(10):
            b.record(t, row, [0.0 if t < 8 else 100.0])
    assert avg(lin, 9) == 20.0
    assert avg(wexp, 9) > 50.0  # the recent step dominates


def test_rows_are_independent_and_reused() -> None:
    b = linear(5)
    r0, r1 = b.add_row(), b.add_row()
    b.record(0, r0, [1.0])
    b.record(0, r1, [7.0])
    np.testing.assert_array_equal(b.window_average(0)[0, :2], [1.0, 7.0])
    b.remove_row(r0)
    again = b.add_row()
    assert again == r0
    assert avg(b, 0, again) == 0.0


def test_capacity_grows() -> None:
    b = bk.WindowBuckets(3, "linear", channels=2, capacity=2)
    rows = [b.add_row() for _ in range(9)]
    b.record_many(1, rows, np.stack([np.arange(9.0), np.ones(9)]))
    result = b.window_average(1)
    np.testing.assert_array_equal(result[0, rows], np.arange(9.0))
    np.testing.assert_array_equal(result[1, rows], np.ones(9))


def test_resize_keeps_recent_data() -> None:
    old = linear(10)
    row = old.add_row()
    for t in range(10):
        old.record(t, row, [float(t)])
    new = linear(4)
    moved = new.add_row_from(old.snapshot(row), now=9)
    assert avg(new, 9, moved) == (6 + 7 + 8 + 9) / 4


# ------------------------------------------------------------------ scalar oracle


class Oracle:
    """A plain transcription of Knative's bucketing rules for one ring, used to check the arrays."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.b = [0.0] * n
        self.first: int | None = None
        self.last = bk.NEVER
        self.total = 0.0

    def record(self, t: int, v: float) -> None:
        if self.last != t:
            if t + self.n > self.last:
                if self.first is None or self.first > t:
                    self.first = t
                if t > self.last:
                    if t - self.last >= self.n:
                        self.first = t
                        self.b = [0.0] * self.n
                        self.total = 0.0
                    else:
                        for i in range(self.last + 1, t + 1):
                            self.total -= self.b[i % self.n]
                            self.b[i % self.n] = 0.0
                    self.last = t
            else:
                return
        self.b[t % self.n] += v
        self.total += v

    def linear(self, t: int) -> float:
        d = t - self.last
        assert self.first is not None or d >= self.n
        if d <= 0:
            assert self.first is not None
            return math.floor(self.total / min(self.last - self.first + 1, self.n) * 1e6) / 1e6
        if d < self.n:
            assert self.first is not None
            ret = self.total - sum(self.b[i % self.n] for i in range(self.last + 1, t + 1))
            return math.floor(ret / min(self.last - self.first + 1, self.n - d) * 1e6) / 1e6
        return 0.0

    def weighted(self, t: int) -> float:
        if t - self.last > self.n:
            return 0.0
        a = bk.smoothing_coefficient(self.n)
        mult = a
        num = self.n
        if t > self.last:
            zeros = t - self.last
            mult *= (1 - a) ** zeros
            num -= zeros
        ret = 0.0
        for i in range(num):
            ret += self.b[(self.last - i) % self.n] * mult
            mult *= 1 - a
        return ret


@pytest.mark.parametrize("window", [1, 3, 6, 60])
def test_arrays_match_the_scalar_oracle(window: int) -> None:
    rng = random.Random(window)
    rows = 12
    lin = bk.WindowBuckets(window, "linear", channels=1)
    wexp = bk.WindowBuckets(window, "weighted-exponential", channels=1)
    for _ in range(rows):
        lin.add_row()
        wexp.add_row()
    oracles = [Oracle(window) for _ in range(rows)]
    t = 1000
    for _step in range(400):
        t += rng.choice([0, 0, 1, 1, 1, 2, 3, window, window + 2])
        batch_rows = [rng.randrange(rows) for _ in range(rng.randrange(0, 6))]
        values = [round(rng.uniform(0, 50), 3) for _ in batch_rows]
        when = t - rng.choice([0, 0, 0, 1, window])  # occasionally late
        lin.record_many(when + 0.5, batch_rows, [values])
        wexp.record_many(when + 0.5, batch_rows, [values])
        for r, v in zip(batch_rows, values, strict=True):
            oracles[r].record(when, v)
        got_lin = lin.window_average(t + 0.25)[0]
        got_w = wexp.window_average(t + 0.25)[0]
        for r, oracle in enumerate(oracles):
            if oracle.last == bk.NEVER:
                assert got_lin[r] == 0.0
                continue
            assert got_lin[r] == pytest.approx(oracle.linear(t), abs=2e-6)
            assert got_w[r] == pytest.approx(oracle.weighted(t), abs=1e-9)
