"""Every revision's KPA in one object: metric windows, decider, scaler, ticked together.

Revisions live in slots of column arrays (spec, inputs and state), so one tick runs the decider
and the scaler over all of them with numpy. The caller supplies time (`now`, seconds), the ready
pod count and reachability of each revision, and the gateways' reports; it gets back, per
revision, the scale to apply and the PodAutoscaler status to write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from autoscaler.kpa import decider, scaler
from autoscaler.kpa.annotations import RPS, RevisionScalingSpec
from autoscaler.kpa.buckets import BoolArray, FloatArray, IntArray
from autoscaler.kpa.collector import CONCURRENCY_CHANNEL, RPS_CHANNEL, MetricCollector
from autoscaler.kpa.config import ACTIVATION_TIMEOUT_BUFFER_SECONDS, DEFAULT_PROGRESS_DEADLINE_SECONDS
from autoscaler.kpa.decisions import Decision, PodAutoscalerSeed, RevisionKey, TickResult
from autoscaler.kpa.maxwindow import MaxTimeWindow


@dataclasses.dataclass
class _Columns:
    """Per-slot arrays; every field is grown together."""

    in_use: BoolArray
    # spec
    target: FloatArray
    total: FloatArray
    tbc: FloatArray
    panic_threshold: FloatArray
    up_rate: FloatArray
    down_rate: FloatArray
    stable_window: FloatArray
    activation_scale: IntArray
    min_scale: IntArray
    max_scale: IntArray
    initial_scale: IntArray
    scale_to_zero: BoolArray
    grace: FloatArray
    retention: FloatArray
    is_rps: BoolArray
    has_delay: BoolArray
    activation_timeout: FloatArray
    # inputs
    ready: IntArray
    reachable: BoolArray
    # decider state
    desired: IntArray
    ebc: FloatArray
    panic_time: FloatArray
    max_panic_pods: IntArray
    stable_concurrency: FloatArray
    panic_concurrency: FloatArray
    stable_rps: FloatArray
    panic_rps: FloatArray
    # PodAutoscaler state
    want: IntArray
    active: IntArray
    reason: IntArray
    active_since: FloatArray
    initialized: BoolArray
    proxy_since: FloatArray
    # what the caller last wrote: replicas (-1 unknown) and the ready count in the last status
    applied: IntArray
    reported_ready: IntArray

    @classmethod
    def empty(cls, capacity: int) -> _Columns:
        arrays: dict[str, npt.NDArray[np.generic]] = {}
        for field in dataclasses.fields(cls):
            kind = str(field.type)
            if kind == "BoolArray":
                arrays[field.name] = np.zeros(capacity, dtype=np.bool_)
            elif kind == "IntArray":
                arrays[field.name] = np.zeros(capacity, dtype=np.int64)
            else:
                arrays[field.name] = np.zeros(capacity, dtype=np.float64)
        return cls(**arrays)  # type: ignore[arg-type]

    def grow(self, capacity: int) -> None:
        for field in dataclasses.fields(self):
            old: npt.NDArray[np.generic] = getattr(self, field.name)
            new = np.zeros(capacity, dtype=old.dtype)
            new[: old.shape[0]] = old
            setattr(self, field.name, new)

    def nbytes(self) -> int:
        return sum(getattr(self, field.name).nbytes for field in dataclasses.fields(self))


_STATUS_CODES = {name: code for code, name in enumerate(scaler.STATUS_NAMES)}
_REASON_CODES = {name: code for code, name in enumerate(scaler.REASON_NAMES)}


class MultiScaler:
    def __init__(
        self, *, progress_deadline: float = DEFAULT_PROGRESS_DEADLINE_SECONDS, capacity: int = 64
    ) -> None:
        self.progress_deadline = progress_deadline
        self._cols = _Columns.empty(capacity)
        self._collector = MetricCollector(capacity)
        self._slots: dict[RevisionKey, int] = {}
        self._keys: list[RevisionKey | None] = [None] * capacity
        self._specs: dict[int, RevisionScalingSpec] = {}
        self._delay: dict[int, MaxTimeWindow] = {}
        self._free: list[int] = list(range(capacity - 1, -1, -1))

    # ------------------------------------------------------------ revisions

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def __len__(self) -> int:
        return len(self._slots)

    def keys(self) -> list[RevisionKey]:
        return list(self._slots)

    def spec(self, key: RevisionKey) -> RevisionScalingSpec:
        return self._specs[self._slots[key]]

    def _new_slot(self) -> int:
        if not self._free:
            old = len(self._keys)
            self._cols.grow(old * 2)
            self._keys.extend([None] * old)
            self._free.extend(range(old * 2 - 1, old - 1, -1))
        return self._free.pop()

    def add(
        self,
        key: RevisionKey,
        spec: RevisionScalingSpec,
        now: float,
        *,
        ready: int = 0,
        reachable: bool = True,
        seed: PodAutoscalerSeed | None = None,
    ) -> None:
        """Start scaling a revision. `ready` > 1 starts it in panic (no scale-down after a restart)."""
        if key in self._slots:
            raise KeyError(f"{key} is already scaled")
        slot = self._new_slot()
        self._slots[key] = slot
        self._keys[slot] = key
        c = self._cols
        c.in_use[slot] = True
        c.ready[slot] = ready
        c.reachable[slot] = reachable
        c.desired[slot] = scaler.SCALE_UNKNOWN
        c.want[slot] = scaler.SCALE_UNKNOWN
        c.panic_time[slot], c.max_panic_pods[slot] = decider.initial_panic_state(now, ready)
        c.stable_concurrency[slot] = c.panic_concurrency[slot] = 0.0
        c.stable_rps[slot] = c.panic_rps[slot] = 0.0
        c.proxy_since[slot] = np.nan
        c.applied[slot] = -1
        c.reported_ready[slot] = -1
        if seed is None:
            c.active[slot] = scaler.ACTIVATING
            c.reason[slot] = scaler.NO_REASON
            c.active_since[slot] = now
            c.initialized[slot] = False
        else:
            c.active[slot] = _STATUS_CODES.get(seed.active_status, scaler.ACTIVATING)
            c.reason[slot] = _REASON_CODES.get(seed.active_reason, scaler.NO_REASON)
            c.active_since[slot] = seed.active_since
            c.initialized[slot] = seed.scale_target_initialized
        self._collector.add(slot, spec.stable_window, spec.panic_window, spec.aggregation)
        self._set_spec(slot, spec, now)
        c.ebc[slot] = decider.initial_excess_burst_capacity(
            spec.initial_scale, spec.total, spec.target_burst_capacity
        )

    def update(self, key: RevisionKey, spec: RevisionScalingSpec, now: float) -> None:
        """New annotations or config: windows are resized keeping their recent data."""
        slot = self._slots[key]
        old = self._specs[slot]
        if old == spec:
            return
        self._collector.reconfigure(slot, spec.stable_window, spec.panic_window, spec.aggregation, now)
        self._set_spec(slot, spec, now)

    def _set_spec(self, slot: int, spec: RevisionScalingSpec, now: float) -> None:
        c = self._cols
        previous = self._specs.get(slot)
        self._specs[slot] = spec
        c.target[slot] = spec.target
        c.total[slot] = spec.total
        c.tbc[slot] = spec.target_burst_capacity
        c.panic_threshold[slot] = spec.panic_threshold
        c.up_rate[slot] = spec.max_scale_up_rate
        c.down_rate[slot] = spec.max_scale_down_rate
        c.stable_window[slot] = spec.stable_window
        c.activation_scale[slot] = spec.activation_scale
        c.min_scale[slot] = spec.min_scale
        c.max_scale[slot] = spec.max_scale
        c.initial_scale[slot] = spec.initial_scale
        c.scale_to_zero[slot] = spec.enable_scale_to_zero
        c.grace[slot] = spec.scale_to_zero_grace_period
        c.retention[slot] = spec.scale_to_zero_pod_retention
        c.is_rps[slot] = spec.metric == RPS
        # Knative gives up an activation after the progress deadline plus a buffer.
        deadline = self.progress_deadline if spec.progress_deadline is None else spec.progress_deadline
        c.activation_timeout[slot] = deadline + ACTIVATION_TIMEOUT_BUFFER_SECONDS
        if previous is None or previous.scale_down_delay != spec.scale_down_delay:
            self._delay.pop(slot, None)
            if spec.scale_down_delay > 0:
                self._delay[slot] = MaxTimeWindow(spec.scale_down_delay)
        c.has_delay[slot] = slot in self._delay

    def hold_as_restarted(self, now: float) -> None:
        """Panic over the ready pods of every revision with more than one, as a fresh decider
        starts (`initial_panic_state`): a standby that takes over decides from windows holding
        only its share of the traffic, and must not scale down until they refill."""
        c = self._cols
        slots = np.nonzero(c.in_use & (c.ready > 1))[0]
        held = np.where(np.isnan(c.panic_time[slots]), 0, c.max_panic_pods[slots])
        c.panic_time[slots] = now
        c.max_panic_pods[slots] = np.maximum(held, c.ready[slots])

    def set_progress_deadline(self, seconds: float) -> None:
        """A new default progress deadline (config-deployment) for revisions without their own."""
        self.progress_deadline = seconds
        for slot, spec in self._specs.items():
            if spec.progress_deadline is None:
                self._cols.activation_timeout[slot] = seconds + ACTIVATION_TIMEOUT_BUFFER_SECONDS

    def remove(self, key: RevisionKey) -> None:
        """Forget a revision (its PodAutoscaler or Deployment is gone)."""
        slot = self._slots.pop(key)
        self._keys[slot] = None
        self._specs.pop(slot)
        self._delay.pop(slot, None)
        self._collector.remove(slot)
        self._cols.in_use[slot] = False
        self._free.append(slot)

    def observe(self, key: RevisionKey, *, ready: int | None = None, reachable: bool | None = None) -> None:
        slot = self._slots[key]
        if ready is not None:
            self._cols.ready[slot] = ready
        if reachable is not None:
            self._cols.reachable[slot] = reachable

    def set_applied(self, key: RevisionKey, replicas: int) -> None:
        """The Deployment's replicas as last written or observed; equal wants are not re-applied."""
        self._cols.applied[self._slots[key]] = replicas

    def applied(self, key: RevisionKey) -> int:
        """The Deployment's replicas as last written or observed (-1 while unknown)."""
        return int(self._cols.applied[self._slots[key]])

    def invalidate_status(self, key: RevisionKey) -> None:
        """Report the status as changed on the next tick (a write failed)."""
        self._cols.reported_ready[self._slots[key]] = -1

    def last_desired(self, key: RevisionKey) -> int:
        return int(self._cols.desired[self._slots[key]])

    # ------------------------------------------------------------ data

    def record(
        self,
        now: float,
        keys: Sequence[RevisionKey],
        concurrency: npt.ArrayLike,
        requests: npt.ArrayLike,
    ) -> list[bool]:
        """Add gateway reports into `now`'s second. Returns, per key, whether it was known
        (reports for unknown revisions are ignored)."""
        known = [key in self._slots for key in keys]
        conc = np.asarray(concurrency, dtype=np.float64)
        reqs = np.asarray(requests, dtype=np.float64)
        mask = np.asarray(known, dtype=np.bool_)
        if mask.any():
            slots = np.fromiter(
                (self._slots[k] for k, ok in zip(keys, known, strict=True) if ok), dtype=np.int64
            )
            self._collector.record(now, slots, conc[mask], reqs[mask])
        return known

    def record_idle(self, now: float) -> None:
        """Record zero for every revision with ready pods, once a second.

        Knative scrapes every pod each second, so a revision with pods always has data, zero when
        idle; kwake's gateways report only revisions with traffic, and this fills the rest in.
        """
        c = self._cols
        slots = np.nonzero(c.in_use & (c.ready > 0))[0]
        if slots.size:
            zeros = np.zeros(slots.size)
            self._collector.record(now, slots, zeros, zeros)

    # ------------------------------------------------------------ ticks

    def tick(
        self, now: float, keys: Iterable[RevisionKey] | None = None, *, decide: bool = True
    ) -> TickResult:
        """Run the decider and scaler for `keys` (default: every revision) at `now`.

        `decide=False` runs the scaler alone on the decider's last desired scale, as Knative's
        PodAutoscaler reconciler does when the cluster changes between ticks (pods became ready,
        a new spec): bounds, Active and scale to zero follow at once, while the windows, panic
        and the scale-down rate limit still move only once per tick.
        """
        c = self._cols
        if keys is None:
            idx = np.nonzero(c.in_use)[0]
        else:
            idx = np.fromiter((self._slots[k] for k in keys), dtype=np.int64)
        is_rps = c.is_rps[idx]
        if not decide:
            had_data = c.desired[idx] >= 0
            return self._settle(now, idx, is_rps, had_data)
        averages = self._collector.averages(now, idx)
        channel_stable = np.where(is_rps, averages.stable[RPS_CHANNEL], averages.stable[CONCURRENCY_CHANNEL])
        channel_panic = np.where(is_rps, averages.panic[RPS_CHANNEL], averages.panic[CONCURRENCY_CHANNEL])
        had_data = ~averages.no_data

        run = idx[had_data]
        if run.size:
            out = decider.scale(
                decider.DeciderInputs(
                    now=now,
                    observed_stable=channel_stable[had_data],
                    observed_panic=channel_panic[had_data],
                    ready=c.ready[run],
                    target=c.target[run],
                    total=c.total[run],
                    target_burst_capacity=c.tbc[run],
                    panic_threshold=c.panic_threshold[run],
                    max_scale_up_rate=c.up_rate[run],
                    max_scale_down_rate=c.down_rate[run],
                    stable_window=c.stable_window[run],
                    activation_scale=c.activation_scale[run],
                    reachable=c.reachable[run],
                ),
                decider.PanicState(panic_time=c.panic_time[run], max_panic_pods=c.max_panic_pods[run]),
            )
            desired = out.desired.copy()
            for pos in np.nonzero(c.has_delay[run])[0]:
                slot = int(run[pos])
                window = self._delay[slot]
                window.record(now, float(desired[pos]))
                if c.reachable[slot]:
                    desired[pos] = int(window.current())
            c.desired[run] = desired
            c.ebc[run] = out.excess_burst_capacity
            c.panic_time[run] = out.state.panic_time
            c.max_panic_pods[run] = out.state.max_panic_pods
            c.stable_concurrency[run] = averages.stable[CONCURRENCY_CHANNEL][had_data]
            c.panic_concurrency[run] = averages.panic[CONCURRENCY_CHANNEL][had_data]
            c.stable_rps[run] = averages.stable[RPS_CHANNEL][had_data]
            c.panic_rps[run] = averages.panic[RPS_CHANNEL][had_data]
        return self._settle(now, idx, is_rps, had_data)

    def _settle(
        self,
        now: float,
        idx: npt.NDArray[np.int64],
        is_rps: npt.NDArray[np.bool_],
        had_data: npt.NDArray[np.bool_],
    ) -> TickResult:
        """The scaler part of a tick: bounds, scale to zero and the Active condition."""
        c = self._cols
        settled = scaler.settle(
            scaler.ScalerInputs(
                now=now,
                desired=c.desired[idx],
                excess_burst_capacity=c.ebc[idx],
                ready=c.ready[idx],
                reachable=c.reachable[idx],
                min_scale=c.min_scale[idx],
                max_scale=c.max_scale[idx],
                initial_scale=c.initial_scale[idx],
                enable_scale_to_zero=c.scale_to_zero[idx],
                grace_period=c.grace[idx],
                pod_retention=c.retention[idx],
                stable_window=c.stable_window[idx],
                activation_timeout=c.activation_timeout[idx],
            ),
            scaler.PodAutoscalerState(
                active=c.active[idx],
                reason=c.reason[idx],
                active_since=c.active_since[idx],
                initialized=c.initialized[idx],
                proxy_since=c.proxy_since[idx],
            ),
        )
        status_changed = (
            (c.want[idx] != settled.want)
            | (c.reported_ready[idx] != c.ready[idx])
            | (c.active[idx] != settled.state.active)
            | (c.reason[idx] != settled.state.reason)
            | (c.initialized[idx] != settled.state.initialized)
        )
        scale_changed = settled.apply & (settled.want != c.applied[idx])
        c.reported_ready[idx] = c.ready[idx]
        c.want[idx] = settled.want
        c.active[idx] = settled.state.active
        c.reason[idx] = settled.state.reason
        c.active_since[idx] = settled.state.active_since
        c.initialized[idx] = settled.state.initialized
        c.proxy_since[idx] = settled.state.proxy_since

        keys_out: list[RevisionKey] = []
        for slot in idx.tolist():
            key = self._keys[slot]
            assert key is not None
            keys_out.append(key)
        return TickResult(
            keys=keys_out,
            desired=c.desired[idx],
            want=settled.want,
            apply=settled.apply,
            ready=c.ready[idx],
            had_data=had_data,
            excess_burst_capacity=c.ebc[idx],
            panic=~np.isnan(c.panic_time[idx]),
            is_rps=is_rps,
            target=c.target[idx],
            stable_concurrency=c.stable_concurrency[idx],
            panic_concurrency=c.panic_concurrency[idx],
            stable_rps=c.stable_rps[idx],
            panic_rps=c.panic_rps[idx],
            active=settled.state.active,
            reason=settled.state.reason,
            active_since=settled.state.active_since,
            initialized=settled.state.initialized,
            scale_changed=scale_changed,
            status_changed=status_changed,
        )

    def snapshot(self) -> TickResult:
        """Every revision's current state, without deciding anything (for metrics)."""
        c = self._cols
        idx = np.nonzero(c.in_use)[0]
        keys_out = [key for key in (self._keys[slot] for slot in idx.tolist()) if key is not None]
        return TickResult(
            keys=keys_out,
            desired=c.desired[idx],
            want=c.want[idx],
            apply=np.zeros(idx.shape[0], dtype=np.bool_),
            ready=c.ready[idx],
            had_data=c.desired[idx] >= 0,
            excess_burst_capacity=c.ebc[idx],
            panic=~np.isnan(c.panic_time[idx]),
            is_rps=c.is_rps[idx],
            target=c.target[idx],
            stable_concurrency=c.stable_concurrency[idx],
            panic_concurrency=c.panic_concurrency[idx],
            stable_rps=c.stable_rps[idx],
            panic_rps=c.panic_rps[idx],
            active=c.active[idx],
            reason=c.reason[idx],
            active_since=c.active_since[idx],
            initialized=c.initialized[idx],
            scale_changed=np.zeros(idx.shape[0], dtype=np.bool_),
            status_changed=np.zeros(idx.shape[0], dtype=np.bool_),
        )

    def tick_one(self, key: RevisionKey, now: float) -> Decision:
        return self.tick(now, [key]).decision(0)

    def poke(self, key: RevisionKey, now: float) -> Decision | None:
        """Knative's Poke: decide at once for a revision whose last desired scale was 0."""
        if key not in self._slots or self.last_desired(key) != 0:
            return None
        return self.tick_one(key, now)

    def memory_bytes(self) -> int:
        return self._cols.nbytes() + self._collector.memory_bytes()
