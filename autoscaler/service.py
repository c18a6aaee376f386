"""The autoscaler service: what the cluster and the gateways say in, decisions out.

Inputs come from two sides:

* the cluster (a Kubernetes watcher, or a test): config-autoscaler's data, each revision's
  annotations, containerConcurrency, Deployment name, reachability and ready pods;
* the gateways: per-second stats and pokes (see `autoscaler.stats`).

Every 2 s (and at once for a poke of a revision last scaled to zero) the MultiScaler decides for
all revisions; changed scales and PodAutoscaler statuses go out through a `ScaleWriter`. The
clock is injected so tests drive time themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from autoscaler.kpa import annotations as kpa_annotations
from autoscaler.kpa import config as kpa_config
from autoscaler.kpa.decisions import Decision, PodAutoscalerSeed, RevisionKey, TickResult
from autoscaler.kpa.multiscaler import MultiScaler
from autoscaler.metrics import AutoscalerMetrics
from autoscaler.podautoscaler import PodAutoscalerInfo, seed_from_body
from autoscaler.stats import StatsMessage
from autoscaler.writer import Condition, PodAutoscalerStatus, ScaleWriter, TargetGone
from serving.api.config import ConfigError as ServingConfigError
from serving.api.config import DeploymentConfig

logger = logging.getLogger(__name__)

TICK_INTERVAL_SECONDS = kpa_config.TICK_INTERVAL_SECONDS
WRITE_CONCURRENCY = 16  # writes in flight at once, so a tick over many changes does not crawl


@dataclasses.dataclass(frozen=True)
class _PendingWrite:
    """The latest decision for a revision not written yet; `status` is set if any decision
    merged into it changed the status."""

    decision: Decision
    status: bool


@dataclasses.dataclass
class _Revision:
    """What the cluster told us of a revision, kept even when another class scales it, so a
    config change can hand it back to the KPA."""

    annotations: dict[str, str]
    container_concurrency: int
    deployment: str
    reachable: bool
    ready: int
    generation: int | None = None  # the PodAutoscaler's metadata.generation, when it came from one


def status_from(decision: Decision) -> PodAutoscalerStatus:
    return PodAutoscalerStatus(
        desired_scale=decision.want,
        actual_scale=decision.ready,
        active=Condition(
            "Active",
            decision.active_status,
            decision.active_reason,
            decision.active_message,
            decision.active_since,
        ),
        scale_target_initialized=Condition(
            "ScaleTargetInitialized",
            "True" if decision.scale_target_initialized else "Unknown",
            last_transition_time=decision.active_since if decision.scale_target_initialized else 0.0,
        ),
    )


class AutoscalerService:
    def __init__(
        self,
        writer: ScaleWriter,
        registry: CollectorRegistry,
        *,
        clock: Callable[[], float] = time.time,
        config: kpa_config.AutoscalerConfig | None = None,
        progress_deadline: float = kpa_config.DEFAULT_PROGRESS_DEADLINE_SECONDS,
    ) -> None:
        self._writer = writer
        self._clock = clock
        self._config = config or kpa_config.AutoscalerConfig()
        self._scaler = MultiScaler(progress_deadline=progress_deadline)
        self._revisions: dict[RevisionKey, _Revision] = {}
        self._lock = asyncio.Lock()
        # Writes happen outside the decision lock, so a tick writing many revisions does not hold
        # up a poke; per revision they are serialised and always carry the latest decision.
        self._pending: dict[RevisionKey, _PendingWrite] = {}
        self._write_locks: dict[RevisionKey, asyncio.Lock] = {}
        self._last_idle_second: int | None = None
        self._leading = True
        self.metrics = AutoscalerMetrics(registry, self._scaler.snapshot)

    # ------------------------------------------------------------ the cluster's side

    @property
    def config(self) -> kpa_config.AutoscalerConfig:
        return self._config

    def set_config(self, data: Mapping[str, str]) -> list[str]:
        """Apply new config-autoscaler data; on errors keep the previous config and return them."""
        try:
            new = kpa_config.from_configmap(data)
        except kpa_config.ConfigError as err:
            logger.error("config-autoscaler rejected, keeping the previous config: %s", err)
            return err.problems
        if new != self._config:
            self._config = new
            now = self._clock()
            for key, rev in list(self._revisions.items()):
                self._sync(key, rev, now, seed=None)
        return []

    def _sync(self, key: RevisionKey, rev: _Revision, now: float, seed: PodAutoscalerSeed | None) -> None:
        """Scale `rev` with the KPA if its class is KPA under the current config, else not."""
        spec = kpa_annotations.resolve_spec(rev.annotations, rev.container_concurrency, self._config)
        if spec.autoscaler_class != kpa_config.KPA_CLASS:
            # Another autoscaler (HPA, or a custom class) owns this revision's scale.
            if key in self._scaler:
                self._scaler.remove(key)
        elif key in self._scaler:
            self._scaler.update(key, spec, now)
            self._scaler.observe(key, ready=rev.ready, reachable=rev.reachable)
        else:
            self._scaler.add(key, spec, now, ready=rev.ready, reachable=rev.reachable, seed=seed)

    def upsert_revision(
        self,
        namespace: str,
        name: str,
        *,
        annotations: Mapping[str, str] | None = None,
        container_concurrency: int = 0,
        deployment: str | None = None,
        reachable: bool = True,
        ready: int = 0,
        seed: PodAutoscalerSeed | None = None,
        generation: int | None = None,
    ) -> list[str]:
        """Start or refresh scaling a revision. Returns annotation problems (logged; the admission
        webhook should have refused them, so the config's values stand in for the bad ones)."""
        key = RevisionKey(namespace, name)
        anns = dict(annotations or {})
        problems = kpa_annotations.validate_annotations(anns, self._config)
        if problems:
            logger.warning(
                "revision %s/%s has invalid autoscaling annotations: %s", namespace, name, problems
            )
        previous = self._revisions.get(key)
        rev = _Revision(
            anns, container_concurrency, deployment or f"{name}-deployment", reachable, ready, generation
        )
        self._revisions[key] = rev
        self._sync(key, rev, self._clock(), seed)
        if previous is not None and previous.generation != generation and key in self._scaler:
            # A new spec: the status must say which generation it answers, even if nothing moved.
            self._scaler.invalidate_status(key)
        return problems

    def upsert_podautoscaler(self, body: dict[str, Any], *, ready: int = 0) -> list[str]:
        """`upsert_revision` from a PodAutoscaler body; its status seeds a revision new to us."""
        info = PodAutoscalerInfo.from_body(body)
        known = RevisionKey(info.namespace, info.name) in self._scaler
        return self.upsert_revision(
            info.namespace,
            info.name,
            annotations=info.annotations,
            container_concurrency=info.container_concurrency,
            deployment=info.deployment,
            reachable=info.reachable,
            ready=ready,
            seed=None if known else seed_from_body(body),
            generation=info.generation,
        )

    def remove_revision(self, namespace: str, name: str) -> None:
        key = RevisionKey(namespace, name)
        self._revisions.pop(key, None)
        self._pending.pop(key, None)
        lock = self._write_locks.get(key)
        if lock is not None and not lock.locked():
            del self._write_locks[key]
        if key in self._scaler:
            self._scaler.remove(key)

    def observe(
        self,
        namespace: str,
        name: str,
        *,
        ready: int | None = None,
        reachable: bool | None = None,
        replicas: int | None = None,
    ) -> None:
        """Ready pods, reachability and the Deployment's replicas as the cluster reports them."""
        key = RevisionKey(namespace, name)
        rev = self._revisions.get(key)
        if rev is not None:
            rev.ready = rev.ready if ready is None else ready
            rev.reachable = rev.reachable if reachable is None else reachable
        if key not in self._scaler:
            return
        self._scaler.observe(key, ready=ready, reachable=reachable)
        if replicas is not None:
            self._scaler.set_applied(key, replicas)

    def set_deployment_config(self, data: Mapping[str, str]) -> list[str]:
        """config-deployment's progress-deadline bounds an activation (as in Knative); on errors
        keep the previous value and return them."""
        try:
            deadline = DeploymentConfig.from_data(data).progress_deadline_seconds
        except (ServingConfigError, ValueError) as err:
            logger.error("config-deployment rejected, keeping the previous progress deadline: %s", err)
            return [str(err)]
        self._scaler.set_progress_deadline(deadline)
        return []

    @property
    def progress_deadline(self) -> float:
        return self._scaler.progress_deadline

    def has_revision(self, namespace: str, name: str) -> bool:
        """Whether the cluster told us of this revision (scaled by the KPA or not)."""
        return RevisionKey(namespace, name) in self._revisions

    @property
    def leading(self) -> bool:
        return self._leading

    def set_leading(self, leading: bool) -> None:
        """Only the leader writes. A standby still receives stats and decides, but writes
        nothing; on taking over every status is written afresh and every scale that differs
        from the Deployment's, and revisions with more than one ready pod start in panic as
        after a restart (the standby saw only its share of the stats)."""
        if leading and not self._leading:
            for key in self.revisions():
                self._scaler.invalidate_status(key)
            self._scaler.hold_as_restarted(self._clock())
        self._leading = leading
        self.metrics.leader.set(1 if leading else 0)

    def revisions(self) -> list[RevisionKey]:
        return self._scaler.keys()

    def last_desired(self, namespace: str, name: str) -> int:
        return self._scaler.last_desired(RevisionKey(namespace, name))

    # ------------------------------------------------------------ the gateways' side

    def record(self, message: StatsMessage) -> list[RevisionKey]:
        """Record a gateway's report at the autoscaler's clock (gateway clocks may disagree).

        Returns the revisions to decide for at once: traffic for a revision last scaled to 0, or
        never sized yet (-1: no pods, so no data; e.g. initial scale 0, or just after a restart).
        """
        if not message.stats:
            return []
        now = self._clock()
        keys = [RevisionKey(s.namespace, s.revision) for s in message.stats]
        concurrency = np.array([s.concurrency for s in message.stats])
        requests = np.array([s.requests for s in message.stats])
        known = self._scaler.record(now, keys, concurrency, requests)
        accepted = sum(known)
        self.metrics.stats_received.inc(accepted)
        if accepted < len(keys):
            self.metrics.stats_unknown.inc(len(keys) - accepted)
        return [
            key
            for key, ok, conc in zip(keys, known, concurrency, strict=True)
            if ok and conc > 0 and self._scaler.last_desired(key) <= 0
        ]

    async def handle_stats(self, message: StatsMessage) -> None:
        to_poke = self.record(message)
        if to_poke:
            await self._decide(sorted(set(to_poke)))

    async def poke(self, namespace: str, name: str) -> bool:
        """A request waits for this revision. Like Knative's activator on a first request, count
        one request in flight now; decide at once if the last desired scale was 0 (or unknown)."""
        self.metrics.pokes.inc()
        key = RevisionKey(namespace, name)
        if key not in self._scaler:
            self.metrics.stats_unknown.inc()
            return False
        self._scaler.record(self._clock(), [key], [1.0], [1.0])
        if self._scaler.last_desired(key) > 0:
            return False
        await self._decide([key])
        return True

    # ------------------------------------------------------------ decisions

    async def tick(self) -> TickResult:
        """One decision over every revision (every 2 s), then its writes."""
        async with self._lock:
            now = self._clock()
            self._record_idle(now)
            result = self._scaler.tick(now)
            self.metrics.ticks.inc()
        await self._apply(result)
        return result

    def _record_idle(self, now: float) -> None:
        second = math.floor(now)
        if second != self._last_idle_second:
            self._last_idle_second = second
            self._scaler.record_idle(now)

    async def reconcile(self, namespace: str, name: str) -> None:
        """The cluster changed under a revision (a new PodAutoscaler or spec, pods that became
        ready): settle its scale and status now on the last decision, as Knative's PA reconciler
        does, rather than at the next tick. The decider itself runs only on ticks and pokes, so
        the scale-down rate limit still holds per tick."""
        await self._decide([RevisionKey(namespace, name)], decide=False)

    async def _decide(self, keys: list[RevisionKey], *, decide: bool = True) -> None:
        async with self._lock:
            present = [key for key in keys if key in self._scaler]
            if not present:
                return
            result = self._scaler.tick(self._clock(), present, decide=decide)
        await self._apply(result)

    async def _apply(self, result: TickResult) -> None:
        """Write what changed, a bounded number of revisions at a time.

        Each changed revision's decision is merged into its pending write first; whoever takes
        the revision's write lock next writes the latest state, so a poke deciding while a
        tick's writes are queued or in flight is neither delayed by them nor overwritten.
        """
        changed = np.nonzero(result.scale_changed | result.status_changed)[0].tolist()
        if not changed or not self._leading:
            return
        keys: list[RevisionKey] = []
        for i in changed:
            decision = result.decision(i)
            previous = self._pending.get(decision.key)
            status = bool(result.status_changed[i]) or (previous is not None and previous.status)
            self._pending[decision.key] = _PendingWrite(decision, status)
            keys.append(decision.key)
        limit = asyncio.Semaphore(WRITE_CONCURRENCY)

        async def flush(key: RevisionKey) -> None:
            async with limit:
                lock = self._write_locks.setdefault(key, asyncio.Lock())
                async with lock:
                    pending = self._pending.pop(key, None)
                    if pending is not None:  # else a later caller wrote it, ours included
                        await self._write(pending)
                if key not in self._revisions and not lock.locked():
                    self._write_locks.pop(key, None)  # forgotten while we wrote

        await asyncio.gather(*(flush(key) for key in keys))

    async def _write(self, pending: _PendingWrite) -> None:
        decision = pending.decision
        key = decision.key
        rev = self._revisions.get(key)
        if rev is None or key not in self._scaler:
            return
        status = dataclasses.replace(status_from(decision), observed_generation=rev.generation)
        try:
            # Compared now, not when decided: an earlier write may have landed meanwhile.
            if decision.apply and decision.want != self._scaler.applied(key):
                logger.info("scaling %s/%s to %d", key.namespace, rev.deployment, decision.want)
                await self._writer.set_scale(key.namespace, rev.deployment, decision.want)
                self.metrics.scale_writes.inc()
                if key in self._scaler:  # it may have been removed while we wrote
                    self._scaler.set_applied(key, decision.want)
            if pending.status:
                await self._writer.write_status(key.namespace, key.name, status)
                self.metrics.status_writes.inc()
        except TargetGone as gone:
            logger.info("forgetting %s/%s: %s", key.namespace, key.name, gone)
            self.remove_revision(key.namespace, key.name)
        except Exception:
            logger.exception("writing the decision for %s/%s failed", key.namespace, key.name)
            self.metrics.write_errors.inc()
            if key in self._scaler:
                self._scaler.invalidate_status(key)

    async def run(
        self, stop: asyncio.Event, interval: float = TICK_INTERVAL_SECONDS, idle_interval: float = 1.0
    ) -> None:
        """Until `stop` is set: every `idle_interval` record the idle zeros (Knative scrapes each
        second), every `interval` tick. A tick that fails is logged and the loop goes on."""
        last_tick: float | None = None
        while not stop.is_set():
            now = self._clock()
            if last_tick is None or now - last_tick >= interval:
                last_tick = now
                try:
                    await self.tick()
                except Exception:
                    logger.exception("autoscaler tick failed")
            else:
                self._record_idle(now)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(interval, idle_interval)):  # not wait_for: see leader
                    await stop.wait()
