"""What a tick produces: per-revision decisions, as arrays and as frozen records."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from autoscaler.kpa import scaler
from autoscaler.kpa.buckets import BoolArray, FloatArray, IntArray


class RevisionKey(NamedTuple):
    namespace: str
    name: str


@dataclasses.dataclass(frozen=True)
class PodAutoscalerSeed:
    """A PodAutoscaler's status as last written, to resume after an autoscaler restart."""

    active_status: str  # "True", "False" or "Unknown"
    active_reason: str = ""
    active_since: float = 0.0
    scale_target_initialized: bool = False


@dataclasses.dataclass(frozen=True)
class Decision:
    """One revision's outcome of a tick."""

    key: RevisionKey
    desired_scale: int  # the decider's desired pod count; -1 while unknown (no data yet)
    want: int  # the PodAutoscaler's desiredScale after bounds and scale-to-zero; -1 unknown
    apply: bool  # write `want` to the scale subresource
    ready: int
    had_data: bool  # the decider ran this tick (false: skipped for lack of data)
    excess_burst_capacity: float
    panic: bool
    metric: str
    target: float
    stable_concurrency: float
    panic_concurrency: float
    stable_rps: float
    panic_rps: float
    active_status: str
    active_reason: str
    active_message: str
    active_since: float  # when the Active condition last changed
    scale_target_initialized: bool


@dataclasses.dataclass(frozen=True)
class TickResult:
    """Outcomes of one tick for the slots it covered, as arrays in the order of `keys`."""

    keys: list[RevisionKey]
    desired: IntArray
    want: IntArray
    apply: BoolArray
    ready: IntArray
    had_data: BoolArray
    excess_burst_capacity: FloatArray
    panic: BoolArray
    is_rps: BoolArray
    target: FloatArray
    stable_concurrency: FloatArray
    panic_concurrency: FloatArray
    stable_rps: FloatArray
    panic_rps: FloatArray
    active: IntArray
    reason: IntArray
    active_since: FloatArray
    initialized: BoolArray
    scale_changed: BoolArray  # apply, and `want` differs from the replicas last applied
    status_changed: BoolArray  # the PodAutoscaler status differs from the last tick's

    def __len__(self) -> int:
        return len(self.keys)

    def decision(self, i: int) -> Decision:
        reason = int(self.reason[i])
        return Decision(
            key=self.keys[i],
            desired_scale=int(self.desired[i]),
            want=int(self.want[i]),
            apply=bool(self.apply[i]),
            ready=int(self.ready[i]),
            had_data=bool(self.had_data[i]),
            excess_burst_capacity=float(self.excess_burst_capacity[i]),
            panic=bool(self.panic[i]),
            metric="rps" if self.is_rps[i] else "concurrency",
            target=float(self.target[i]),
            stable_concurrency=float(self.stable_concurrency[i]),
            panic_concurrency=float(self.panic_concurrency[i]),
            stable_rps=float(self.stable_rps[i]),
            panic_rps=float(self.panic_rps[i]),
            active_status=scaler.STATUS_NAMES[int(self.active[i])],
            active_reason=scaler.REASON_NAMES[reason],
            active_message=scaler.REASON_MESSAGES[reason],
            active_since=float(self.active_since[i]),
            scale_target_initialized=bool(self.initialized[i]),
        )

    def decisions(self) -> list[Decision]:
        return [self.decision(i) for i in range(len(self.keys))]

    def by_key(self) -> dict[RevisionKey, Decision]:
        return {d.key: d for d in self.decisions()}
