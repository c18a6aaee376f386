"""Replay a per-second load trace through the KPA with a model of pod start time.

The same MultiScaler that runs in the service decides; around it, a small world: a gateway
that reports the trace's concurrency and request count every second (and pokes the autoscaler
when traffic meets a revision with no ready pod, as Knative's activator does), and pods that are
ready `pod_start_seconds` after the scale that created them. Requests waiting for capacity are
not modelled as a queue: the trace is the demand, and the report counts the seconds where the
demand exceeded the ready pods' capacity.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from autoscaler.kpa.annotations import RPS, RevisionScalingSpec, resolve_spec
from autoscaler.kpa.buckets import FloatArray
from autoscaler.kpa.config import AutoscalerConfig
from autoscaler.kpa.decisions import RevisionKey
from autoscaler.kpa.multiscaler import MultiScaler

KEY = RevisionKey("simulation", "revision")


@dataclasses.dataclass(frozen=True)
class Trace:
    """Demand per second: average concurrency and requests started in that second."""

    concurrency: FloatArray
    requests: FloatArray

    @classmethod
    def from_concurrency(cls, concurrency: FloatArray, mean_duration: float) -> Trace:
        """Requests from concurrency by Little's law (rate = concurrency / duration)."""
        conc = np.asarray(concurrency, dtype=np.float64)
        return cls(concurrency=conc, requests=conc / mean_duration)

    @classmethod
    def from_arrivals(cls, arrivals: FloatArray, mean_duration: float) -> Trace:
        """Concurrency from arrivals: each request stays `mean_duration` seconds."""
        arr = np.asarray(arrivals, dtype=np.float64)
        whole = math.floor(mean_duration)
        kernel = [1.0] * whole + ([mean_duration - whole] if mean_duration > whole else [])
        conc = np.convolve(arr, np.asarray(kernel))[: arr.shape[0]]
        return cls(concurrency=conc, requests=arr)


@dataclasses.dataclass(frozen=True)
class Result:
    spec: RevisionScalingSpec
    seconds: list[int]
    demand: list[float]
    replicas: list[int]
    ready: list[int]
    desired: list[int]
    panic: list[bool]
    cold_starts: int
    seconds_over_capacity: int
    excess_demand: float  # sum over seconds of demand above the ready pods' capacity
    pod_seconds: float
    ready_pod_seconds: float

    def summary(self) -> dict[str, object]:
        capacity = self.spec.container_concurrency or self.spec.total
        return {
            "spec": {
                "metric": self.spec.metric,
                "target": self.spec.target,
                "pod_capacity": capacity,
                "stable_window_seconds": self.spec.stable_window,
                "panic_window_seconds": self.spec.panic_window,
                "panic_threshold": self.spec.panic_threshold,
                "scale_down_delay_seconds": self.spec.scale_down_delay,
                "min_scale": self.spec.min_scale,
                "max_scale": self.spec.max_scale,
                "target_burst_capacity": self.spec.target_burst_capacity,
            },
            "seconds": len(self.seconds),
            "cold_starts": self.cold_starts,
            "seconds_over_capacity": self.seconds_over_capacity,
            "excess_demand": self.excess_demand,
            "pod_seconds": self.pod_seconds,
            "ready_pod_seconds": self.ready_pod_seconds,
            "max_replicas": max(self.replicas, default=0),
            "panic_seconds": sum(self.panic),
            "timeline": {
                "second": self.seconds,
                "demand": self.demand,
                "replicas": self.replicas,
                "ready": self.ready,
                "desired": self.desired,
            },
        }


def simulate(
    trace: Trace,
    *,
    annotations: Mapping[str, str] | None = None,
    container_concurrency: int = 0,
    config: AutoscalerConfig | None = None,
    pod_start_seconds: float = 5.0,
    initial_pods: int = 0,
    tail_seconds: int = 0,
    progress_deadline: float = 600.0,
) -> Result:
    cfg = config or AutoscalerConfig()
    spec = resolve_spec(annotations or {}, container_concurrency, cfg)
    pod_capacity = float(spec.container_concurrency or spec.total)
    scaler = MultiScaler(progress_deadline=progress_deadline, capacity=1)
    scaler.add(KEY, spec, 0.0, ready=initial_pods)

    total = trace.concurrency.shape[0] + tail_seconds
    concurrency = np.concatenate([trace.concurrency, np.zeros(tail_seconds)])
    requests = np.concatenate([trace.requests, np.zeros(tail_seconds)])
    ready_at: list[float] = [0.0] * initial_pods  # start-complete time of each live pod
    seconds: list[int] = []
    demand: list[float] = []
    replicas_line: list[int] = []
    ready_line: list[int] = []
    desired_line: list[int] = []
    panic_line: list[bool] = []
    cold_starts = 0
    over = 0
    excess = 0.0
    pod_seconds = 0.0
    ready_pod_seconds = 0.0
    panic = False
    desired = -1

    def apply(want: int, now: float) -> None:
        nonlocal cold_starts
        if want == len(ready_at):
            return
        if not ready_at and want > 0:
            cold_starts += 1
        if want > len(ready_at):
            ready_at.extend([now + pod_start_seconds] * (want - len(ready_at)))
        else:
            # Scale-down removes the pods that are still starting first, as a ReplicaSet does.
            ready_at.sort()
            del ready_at[want:]

    for second in range(total):
        now = float(second)
        ready = sum(1 for t in ready_at if t <= now)
        scaler.observe(KEY, ready=ready)
        conc, reqs = float(concurrency[second]), float(requests[second])
        if conc > 0 or reqs > 0:
            scaler.record(now, [KEY], [conc], [reqs])
            if ready == 0:
                poked = scaler.poke(KEY, now)
                if poked is not None and poked.apply:
                    apply(poked.want, now)
        scaler.record_idle(now)
        if second % 2 == 0:
            decision = scaler.tick_one(KEY, now)
            desired, panic = decision.desired_scale, decision.panic
            if decision.apply:
                apply(decision.want, now)
        observed = reqs if spec.metric == RPS else conc
        if observed > ready * pod_capacity + 1e-9:
            over += 1
            excess += observed - ready * pod_capacity
        seconds.append(second)
        demand.append(observed)
        replicas_line.append(len(ready_at))
        ready_line.append(ready)
        desired_line.append(desired)
        panic_line.append(panic)
        pod_seconds += len(ready_at)
        ready_pod_seconds += ready
    return Result(
        spec=spec,
        seconds=seconds,
        demand=demand,
        replicas=replicas_line,
        ready=ready_line,
        desired=desired_line,
        panic=panic_line,
        cold_starts=cold_starts,
        seconds_over_capacity=over,
        excess_demand=excess,
        pod_seconds=pod_seconds,
        ready_pod_seconds=ready_pod_seconds,
    )
