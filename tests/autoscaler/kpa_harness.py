"""A synthetic-clock driver for one or more revisions of the MultiScaler (no sleeping)."""

from __future__ import annotations

from collections.abc import Mapping

from autoscaler.kpa.annotations import resolve_spec
from autoscaler.kpa.config import AutoscalerConfig
from autoscaler.kpa.decisions import Decision, PodAutoscalerSeed, RevisionKey
from autoscaler.kpa.multiscaler import MultiScaler

G = "autoscaling.knative.dev"
KEY = RevisionKey("default", "hello-00001")


class Clocked:
    """One revision, a clock in whole seconds, gateway reports once a second, ticks every 2 s."""

    def __init__(
        self,
        annotations: Mapping[str, str] | None = None,
        *,
        container_concurrency: int = 0,
        config: AutoscalerConfig | None = None,
        ready: int = 0,
        reachable: bool = True,
        progress_deadline: float = 600.0,
        start: float = 10_000.0,
        seed: PodAutoscalerSeed | None = None,
    ) -> None:
        self.now = start
        self.config = config or AutoscalerConfig()
        self.scaler = MultiScaler(progress_deadline=progress_deadline)
        self.spec = resolve_spec(annotations or {}, container_concurrency, self.config)
        self.scaler.add(KEY, self.spec, self.now, ready=ready, reachable=reachable, seed=seed)
        self.ready = ready

    def set_ready(self, ready: int) -> None:
        self.ready = ready
        self.scaler.observe(KEY, ready=ready)

    def set_reachable(self, reachable: bool) -> None:
        self.scaler.observe(KEY, reachable=reachable)

    def report(self, concurrency: float, requests: float = 0.0) -> None:
        self.scaler.record(self.now, [KEY], [concurrency], [requests])

    def tick(self) -> Decision:
        return self.scaler.tick_one(KEY, self.now)

    def run(
        self,
        seconds: int,
        concurrency: float = 0.0,
        requests: float = 0.0,
        *,
        follow: bool = False,
    ) -> list[Decision]:
        """Advance `seconds`: each second a report (only when there is traffic, as a gateway does)
        and the idle zero for revisions with pods; a tick on even seconds. With `follow`, ready
        pods jump to every applied scale at once (an instant pod start)."""
        decisions = []
        for _ in range(seconds):
            self.now += 1
            if concurrency or requests:
                self.report(concurrency, requests)
            self.scaler.record_idle(self.now)
            if int(self.now) % 2 == 0:
                decision = self.tick()
                decisions.append(decision)
                if follow and decision.apply:
                    self.set_ready(decision.want)
        return decisions
