"""Stable and panic windows of concurrency and request rate for every revision slot.

Like knative/serving's metric collector, each revision has four windows (concurrency and rps,
stable and panic), all fed by the same reports. We keep concurrency and rps as two channels of
one ring, and group rings of the same length and algorithm into one `WindowBuckets`, so a tick
averages every revision with a handful of array operations.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import numpy.typing as npt

from autoscaler.kpa import buckets as bk

CONCURRENCY_CHANNEL = 0
RPS_CHANNEL = 1
CHANNELS = 2

PoolKey = tuple[int, bk.Algorithm]


@dataclasses.dataclass(frozen=True)
class Averages:
    """Windowed averages for the requested slots, in their order."""

    stable: bk.FloatArray  # (CHANNELS, k)
    panic: bk.FloatArray  # (CHANNELS, k)
    no_data: bk.BoolArray  # (k,): nothing recorded within the stable window (ErrNoData)


class MetricCollector:
    """Maps revision slots to rows of window pools; slots are small ints owned by the caller."""

    def __init__(self, capacity: int = 16) -> None:
        self._pools: dict[PoolKey, bk.WindowBuckets] = {}
        self._stable: dict[int, tuple[PoolKey, int]] = {}
        self._panic: dict[int, tuple[PoolKey, int]] = {}
        # slot -> (pool index, row) in arrays for vectorised record and read
        self._capacity = capacity
        self._stable_pool_id = np.full(capacity, -1, dtype=np.int64)
        self._stable_row = np.zeros(capacity, dtype=np.int64)
        self._panic_pool_id = np.full(capacity, -1, dtype=np.int64)
        self._panic_row = np.zeros(capacity, dtype=np.int64)
        self._pool_keys: list[PoolKey] = []

    # ------------------------------------------------------------ slots

    def _ensure_capacity(self, slot: int) -> None:
        if slot < self._capacity:
            return
        new = max(slot + 1, self._capacity * 2)
        extra = new - self._capacity
        self._stable_pool_id = np.concatenate([self._stable_pool_id, np.full(extra, -1, dtype=np.int64)])
        self._stable_row = np.concatenate([self._stable_row, np.zeros(extra, dtype=np.int64)])
        self._panic_pool_id = np.concatenate([self._panic_pool_id, np.full(extra, -1, dtype=np.int64)])
        self._panic_row = np.concatenate([self._panic_row, np.zeros(extra, dtype=np.int64)])
        self._capacity = new

    def _place(self, key: PoolKey, snap: bk.RowSnapshot | None, now: float) -> int:
        if key not in self._pools:
            self._pools[key] = bk.WindowBuckets(key[0], key[1], channels=CHANNELS)
            self._pool_keys.append(key)
        pool = self._pools[key]
        return pool.add_row() if snap is None else pool.add_row_from(snap, now)

    def add(self, slot: int, stable_window: float, panic_window: float, algorithm: bk.Algorithm) -> None:
        if slot in self._stable:
            raise KeyError(f"slot {slot} already collected")
        self._ensure_capacity(slot)
        self._attach(slot, stable_window, panic_window, algorithm, None, None, 0.0)

    def _attach(
        self,
        slot: int,
        stable_window: float,
        panic_window: float,
        algorithm: bk.Algorithm,
        stable_snap: bk.RowSnapshot | None,
        panic_snap: bk.RowSnapshot | None,
        now: float,
    ) -> None:
        stable_key: PoolKey = (math.ceil(stable_window), algorithm)
        panic_key: PoolKey = (math.ceil(panic_window), algorithm)
        stable_row = self._place(stable_key, stable_snap, now)
        panic_row = self._place(panic_key, panic_snap, now)
        self._stable[slot] = (stable_key, stable_row)
        self._panic[slot] = (panic_key, panic_row)
        self._stable_pool_id[slot] = self._pool_keys.index(stable_key)
        self._stable_row[slot] = stable_row
        self._panic_pool_id[slot] = self._pool_keys.index(panic_key)
        self._panic_row[slot] = panic_row

    def _detach(self, slot: int) -> tuple[bk.RowSnapshot, bk.RowSnapshot]:
        snaps = []
        for table in (self._stable, self._panic):
            key, row = table.pop(slot)
            pool = self._pools[key]
            snaps.append(pool.snapshot(row))
            pool.remove_row(row)
        self._stable_pool_id[slot] = -1
        self._panic_pool_id[slot] = -1
        return snaps[0], snaps[1]

    def reconfigure(
        self, slot: int, stable_window: float, panic_window: float, algorithm: bk.Algorithm, now: float
    ) -> None:
        """Change a slot's windows, keeping recent data as Knative's ResizeWindow does."""
        stable_key, _ = self._stable[slot]
        panic_key, _ = self._panic[slot]
        if stable_key == (math.ceil(stable_window), algorithm) and panic_key == (
            math.ceil(panic_window),
            algorithm,
        ):
            return
        stable_snap, panic_snap = self._detach(slot)
        self._attach(slot, stable_window, panic_window, algorithm, stable_snap, panic_snap, now)

    def remove(self, slot: int) -> None:
        self._detach(slot)

    def __contains__(self, slot: int) -> bool:
        return slot in self._stable

    # ------------------------------------------------------------ data

    def record(
        self, now: float, slots: npt.ArrayLike, concurrency: npt.ArrayLike, requests: npt.ArrayLike
    ) -> None:
        """Add each slot's concurrency and request count into the bucket of `now`'s second."""
        slot_arr = np.asarray(slots, dtype=np.int64)
        values = np.stack(
            [np.asarray(concurrency, dtype=np.float64), np.asarray(requests, dtype=np.float64)]
        ).reshape(CHANNELS, slot_arr.shape[0])
        for pool_ids, rows in (
            (self._stable_pool_id, self._stable_row),
            (self._panic_pool_id, self._panic_row),
        ):
            ids = pool_ids[slot_arr]
            for pool_id in np.unique(ids):
                if pool_id < 0:
                    raise KeyError("recording for a slot that is not collected")
                chosen = ids == pool_id
                pool = self._pools[self._pool_keys[int(pool_id)]]
                pool.record_many(now, rows[slot_arr[chosen]], values[:, chosen])

    def averages(self, now: float, slots: npt.ArrayLike) -> Averages:
        """Stable and panic averages of both channels for `slots` (all must be collected)."""
        slot_arr = np.asarray(slots, dtype=np.int64)
        k = slot_arr.shape[0]
        stable = np.zeros((CHANNELS, k))
        panic = np.zeros((CHANNELS, k))
        no_data = np.ones(k, dtype=np.bool_)
        for out, pool_ids, rows, is_stable in (
            (stable, self._stable_pool_id, self._stable_row, True),
            (panic, self._panic_pool_id, self._panic_row, False),
        ):
            ids = pool_ids[slot_arr]
            for pool_id in np.unique(ids):
                chosen = np.nonzero(ids == pool_id)[0]
                pool = self._pools[self._pool_keys[int(pool_id)]]
                pool_rows = rows[slot_arr[chosen]]
                out[:, chosen] = pool.window_average(now, pool_rows)
                if is_stable:
                    no_data[chosen] = pool.is_empty(now, pool_rows)
        return Averages(stable=stable, panic=panic, no_data=no_data)

    def memory_bytes(self) -> int:
        total = 0
        for b in self._pools.values():
            total += b.buckets.nbytes + b.totals.nbytes + b.first_write.nbytes + b.last_write.nbytes
        return total
